"""What the app offers the parts it composes: the screens, the session lifecycle, diagnostics.

`kiosk.app.KioskApp` is the composition root; it imports the screens and the session
lifecycle and hands itself to them. They see it only through these protocols, so the
imports point one way (app → screens, session → ports) and a screen can be built in a test
against any object with this surface. Add a member here when a screen needs a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

from flows.engine import Flow
from flows.views import Action, ViewBase

if TYPE_CHECKING:
    from flows.journal import Journal
    from kiosk.i18n import Translator
    from kiosk.images import AssetImages
    from kiosk.theme import Sizes


@dataclass(frozen=True)
class SessionEnd:
    """How a session ended, for the fleet's service statistics: no personal data, only the
    flow's own step name, its place in the flow, the abort reason and the duration."""

    completed: bool
    step: str = ""
    step_no: int = 0
    reason: str = ""  # flows.outcomes.AbortReason value, "" when completed
    duration_s: float | None = None


@dataclass
class ServiceEntry:
    """A tile on the home screen and the flow it starts."""

    name: str  # the flow's name; catalog keys service.<name>.title / .desc
    make_flow: Callable[[], Flow]
    deps_factory: Callable[[], Any] | None = None  # called on the flow loop; may be async
    icon: str = ""
    required_devices: frozenset[str] = field(default_factory=frozenset)


class ScreenHost(Protocol):
    """The app as a screen sees it: texts, sizes, the chrome toggles, and the way back to the flow."""

    tr: "Translator"
    sizes: "Sizes"
    base_sizes: "Sizes"
    lang: str
    elderly: bool
    voice_on: bool
    images: "AssetImages"
    services: list[ServiceEntry]
    catalogue: Any  # flows.catalogue.Catalogue: what the home screen offers, grouped and ordered
    out_of_service_reason: str | None

    def toggle_voice(self) -> None: ...
    def toggle_elderly(self) -> None: ...
    def toggle_language(self) -> None: ...
    def repeat(self) -> None: ...
    def service_title(self) -> str: ...
    def speak_key(self, key: str | None) -> None: ...
    def start_service(self, name: str) -> None: ...
    def act(self, action: Action) -> None: ...
    def end_session(self) -> None: ...


class SessionHost(Protocol):
    """The app as the session lifecycle sees it: where flows run and where their views go."""

    options: Any  # kiosk.app.KioskOptions
    flow_clock: Any
    elderly: bool
    host: Any  # kiosk.flowhost.FlowHost, once the app is built
    current_view: ViewBase | None

    def journal(self) -> "Journal | None": ...
    def show_home(self) -> None: ...
    def show_view(self, view: ViewBase) -> None: ...
    def wipe_screens(self) -> None: ...
