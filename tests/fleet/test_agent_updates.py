"""Signed updates end to end through the agent: a real Mosquitto, a real agent process,
a real HTTP artifact server (with Range), real release directories and venvs, and a
stand-in kiosk app (tiny wheels) that answers the control socket, so the agent's default
health probe (`ControlStatusProbe`) and session gate are the ones under test.

The server side is played by an MQTT probe publishing the retained ``update/desired``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleet.agent.testing import ControlAppLab, ReleaseKiosk, install_first_release, short_dir
from fleet.protocol import Channel, Presence, UpdateDesired, UpdateReported, decode, kiosk_topic, outgoing
from fleet.updates.installer import CRASH_ENV
from fleet.bundle.keys import generate_keypair, load_private_key
from fleet.bundle.manifest import sha256_file
from fleet.updates.testing import tamper_bundle

A = "kiosk-a"
REPORTED = kiosk_topic(A, Channel.UPDATE_REPORTED)
STATUS = kiosk_topic(A, Channel.STATUS)


class Lab(ControlAppLab):
    """The control-socket app's releases, and the retained ``update/desired`` for each."""

    def desired(self, version: str, rollout_id: str = "r1", bundle: str | None = None, **fields) -> UpdateDesired:
        name = bundle or self.bundle_name(version)
        size, digest = sha256_file(self.serve_dir / name)
        return UpdateDesired(kiosk_id=A, version=version, url=f"{self.server.url}/{name}", sha256=digest, size=size,
                             rollout_id=rollout_id, **fields)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("lab")) as lab:
        for version in ("0.9.0", "1.0.0", "2.0.0"):
            lab.add_release(version)
        lab.add_release("3.0.0", healthy=False)
        rogue, _ = generate_keypair(lab.base / "rogue-keys", "rogue")
        lab.add_release("5.0.0", key=load_private_key(rogue))  # signed, by a key no kiosk trusts
        tamper_bundle(lab.serve_dir / lab.bundle_name("2.0.0"), lab.serve_dir / "tampered-2.0.0.bundle")
        yield lab


@pytest.fixture(scope="module")
def template(lab, tmp_path_factory):
    """A kiosk root with 1.0.0 installed and committed by the real installer (copied per test)."""
    root = tmp_path_factory.mktemp("template") / "root"
    outcome = install_first_release(lab, root)
    assert outcome.status == "committed", outcome
    return root


class Kiosk(ReleaseKiosk):
    """One kiosk: its release root (1.0.0 running), its app run dir, the agent settings."""

    def __init__(self, lab: Lab, template: Path, base: Path) -> None:
        super().__init__(lab, template, base / "root", short_dir("kr-"))  # kiosk.service starts 1.0.0
        assert self.app_status().app_version == "1.0.0"
        self.clock_file = base / "clock.txt"

    def settings(self, **overrides) -> dict:
        return self.update_settings(**{"control_socket": self.run / "control.sock",
                                       "update_progress_interval_s": 0.0, **overrides})


@pytest.fixture
def kiosk(lab, template, tmp_path):
    kiosk = Kiosk(lab, template, tmp_path)
    yield kiosk
    kiosk.close()


def fleet_server(mqtt_probe):
    server = mqtt_probe()
    server.subscribe(REPORTED)
    server.subscribe(STATUS)
    return server


def wait_online(server, count: int = 1):
    server.wait_for(STATUS, lambda m: m.payload and decode(Presence, m.payload).online, count=count, timeout=15)


def reports(server) -> list[UpdateReported]:
    return [decode(UpdateReported, m.payload) for m in server.received(REPORTED)]


def wait_report(server, state: str, version: str | None = None, timeout: float = 30.0, count: int = 1) -> UpdateReported:
    def match(m) -> bool:
        r = decode(UpdateReported, m.payload)
        return r.state == state and (version is None or r.version == version)

    return decode(UpdateReported, server.wait_for(REPORTED, match, count=count, timeout=timeout)[-1].payload)


def states(server, version: str) -> list[str]:
    return [r.state.value for r in reports(server) if r.version == version]


# ---------------------------------------------------------------- tests


def test_signed_update_is_installed_restarted_and_committed(kiosk, lab, mqtt_probe, agent_process):
    server = fleet_server(mqtt_probe)
    agent = agent_process(A, **kiosk.settings())
    wait_online(server)
    old_pid = kiosk.app_pid
    server.send(outgoing(lab.desired("2.0.0", rollout_id="r1")))

    done = wait_report(server, "committed", "2.0.0")
    assert done.rollout_id == "r1" and done.current_version == "2.0.0" and done.reason == ""
    seen = states(server, "2.0.0")
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == [
        "downloading", "verifying", "installing", "restarting", "pending_commit", "committed"]
    percents = [r.progress for r in reports(server) if r.state == "downloading"]
    assert percents[0] == 0.0 and percents[-1] == 100.0
    assert kiosk.current == "2.0.0" and kiosk.releases == {"1.0.0", "2.0.0"}
    status = kiosk.app_status()
    assert status.app_version == "2.0.0" and kiosk.app_pid != old_pid  # the app restarted as 2.0.0

    # The retained desired comes again at every connect: answered once, never reinstalled.
    requests, pid = len(lab.server.requests), kiosk.app_pid
    agent.stop()
    agent.start()
    wait_online(server, count=2)
    time.sleep(1.0)  # give the agent time to (wrongly) act on the re-delivered desired
    assert states(server, "2.0.0").count("committed") == 1 and states(server, "2.0.0")[-1] == "committed"
    assert len(lab.server.requests) == requests and kiosk.app_pid == pid


def test_unhealthy_release_is_rolled_back_with_the_reason(kiosk, lab, mqtt_probe, agent_process):
    server = fleet_server(mqtt_probe)
    agent_process(A, **kiosk.settings(update_health_deadline_s=1.0))
    wait_online(server)
    server.send(outgoing(lab.desired("3.0.0", rollout_id="r2")))

    done = wait_report(server, "rolled_back", "3.0.0")
    assert done.reason == "unhealthy" and "no devices supervised" in done.detail
    assert done.current_version == "1.0.0" and "rolling_back" in states(server, "3.0.0")
    assert kiosk.current == "1.0.0" and kiosk.releases == {"1.0.0"}
    assert kiosk.app_status().app_version == "1.0.0"  # the old release runs again


def test_tampered_wrong_key_and_downgrade_bundles_are_refused(kiosk, lab, mqtt_probe, agent_process):
    server = fleet_server(mqtt_probe)
    agent_process(A, **kiosk.settings(update_base_url=lab.server.url + "/"))
    wait_online(server)
    pid = kiosk.app_pid
    relative = lab.desired("5.0.0", rollout_id="r4").model_copy(update={"url": lab.bundle_name("5.0.0")})
    cases = [
        (lab.desired("2.0.0", rollout_id="r3", bundle="tampered-2.0.0.bundle"), "hash_mismatch"),
        (relative, "untrusted_key"),  # a relative url, resolved against update_base_url
        (lab.desired("0.9.0", rollout_id="r5"), "downgrade"),
    ]
    for desired, reason in cases:
        server.send(outgoing(desired))
        refused = wait_report(server, "refused", desired.version)
        assert (refused.reason, refused.rollout_id, refused.current_version) == (reason, desired.rollout_id, "1.0.0")
    assert kiosk.current == "1.0.0" and kiosk.releases == {"1.0.0"}
    assert kiosk.app_pid == pid  # never restarted
    assert not any(s in ("installing", "restarting") for r in reports(server) for s in [r.state.value])


def test_kill_9_while_installing_resumes_to_a_committed_release(kiosk, lab, mqtt_probe, agent_process):
    server = fleet_server(mqtt_probe)
    agent = agent_process(A, **kiosk.settings())
    wait_online(server)
    server.send(outgoing(lab.desired("2.0.0", rollout_id="r6")))
    wait_report(server, "installing", "2.0.0")
    agent.kill9()  # in the middle of building releases/2.0.0 (venv + pip take seconds)
    assert kiosk.current == "1.0.0" and kiosk.app_status().app_version == "1.0.0"

    agent.start()
    interrupted = wait_report(server, "idle", "2.0.0")  # resume() undid the half-built release
    assert interrupted.reason == "interrupted" and interrupted.current_version == "1.0.0"
    done = wait_report(server, "committed", "2.0.0")  # then the retained desired installed it again
    assert done.rollout_id == "r6" and kiosk.current == "2.0.0"
    assert kiosk.app_status().app_version == "2.0.0" and kiosk.releases == {"1.0.0", "2.0.0"}
    assert states(server, "2.0.0").count("committed") == 1


@pytest.mark.parametrize("checkpoint,version,final,reason", [
    ("packages_installed", "2.0.0", "committed", ""),  # before the switch: undone, then installed again
    ("switched", "2.0.0", "committed", ""),  # current -> 2.0.0 but the app not restarted yet
    ("restarted", "2.0.0", "committed", ""),
    ("healthy", "2.0.0", "committed", ""),  # healthy, commit not yet written
    ("rollback_started", "3.0.0", "rolled_back", "unhealthy"),  # rollback decided, not yet switched back
])
def test_agent_killed_at_a_step_resumes_to_a_consistent_state(kiosk, lab, mqtt_probe, agent_process, monkeypatch,
                                                              checkpoint, version, final, reason):
    server = fleet_server(mqtt_probe)
    monkeypatch.setenv(CRASH_ENV, checkpoint)  # the agent SIGKILLs itself right after that step
    agent = agent_process(A, **kiosk.settings(update_health_deadline_s=1.0 if final == "rolled_back" else 8.0))
    monkeypatch.delenv(CRASH_ENV)  # only that process: the installer in this one must not die
    wait_online(server)
    server.send(outgoing(lab.desired(version, rollout_id="r7")))
    agent.proc.wait(30)
    assert agent.proc.returncode == -9, agent.log()[-2000:]

    agent.env.pop(CRASH_ENV)
    agent.start()
    done = wait_report(server, final, version)
    assert (done.rollout_id, done.reason) == ("r7", reason)
    expected = version if final == "committed" else "1.0.0"
    assert kiosk.current == expected == done.current_version
    assert kiosk.app_status().app_version == expected  # the app that runs is the one `current` names
    assert kiosk.releases == ({"1.0.0", "2.0.0"} if final == "committed" else {"1.0.0"})
    wait_online(server, count=2)
    time.sleep(0.5)  # the re-delivered desired must not start another install
    assert states(server, version).count(final) == 1 and states(server, version)[-1] == final


def test_deferred_outside_the_window_and_during_a_session_then_installed(kiosk, lab, mqtt_probe, agent_process):
    kiosk.clock_file.write_text("2025-03-04T14:00:00")
    server = fleet_server(mqtt_probe)
    agent_process(A, **kiosk.settings(update_maintenance_windows='["02:00-04:00"]',
                                      update_clock_file=kiosk.clock_file))
    wait_online(server)
    server.send(outgoing(lab.desired("2.0.0", rollout_id="r8")))
    deferred = wait_report(server, "deferred", "2.0.0")
    assert deferred.reason == "outside_maintenance_window" and "14:00" in deferred.detail
    requests = len(lab.server.requests)
    time.sleep(1.0)  # a few retries (update_retry_s 0.3): silent while nothing changes
    assert states(server, "2.0.0").count("deferred") == 1 and len(lab.server.requests) == requests
    assert kiosk.current == "1.0.0"

    (kiosk.run / "session_active").touch()  # a citizen arrives...
    kiosk.clock_file.write_text("2025-03-05T02:30:00")  # ...just as the window opens
    deferred = wait_report(server, "deferred", "2.0.0", count=2)
    assert deferred.reason == "session_active" and kiosk.current == "1.0.0"
    (kiosk.run / "session_active").unlink()
    done = wait_report(server, "committed", "2.0.0")
    assert done.current_version == "2.0.0" and kiosk.app_status().app_version == "2.0.0"
    assert len(lab.server.requests) == requests  # the bundle fetched ahead of the window was used


@pytest.mark.parametrize("keys", ["[]", '["ed25519:not-a-key"]'], ids=["no-keys", "bad-key"])
def test_agent_without_usable_keys_stays_up_and_refuses(kiosk, lab, mqtt_probe, agent_process, keys):
    server = fleet_server(mqtt_probe)
    agent_process(A, **kiosk.settings(update_trusted_keys=keys))
    wait_online(server)
    server.publish(kiosk_topic(A, Channel.UPDATE_DESIRED), b'{"v":1,"kiosk_id":"kiosk-a","version":"2.0.0"}',
                   retain=True)
    assert wait_report(server, "refused", "2.0.0").reason == "malformed_desired"
    server.send(outgoing(lab.desired("2.0.0", rollout_id="r9")))
    refused = wait_report(server, "refused", "2.0.0", count=2)
    assert refused.reason == "not_configured" and refused.rollout_id == "r9" and refused.current_version == "1.0.0"
    assert kiosk.current == "1.0.0"
