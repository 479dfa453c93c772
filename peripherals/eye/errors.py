"""Vision tester failures."""

from peripherals.errors import DeviceFault


class EyeTesterFault(DeviceFault):
    code = "eye_tester_fault"
    plain = "the vision tester reported a fault"
