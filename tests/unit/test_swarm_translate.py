"""The Swarm translation: compose model + values -> a stack file without values, secret specs."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from secure_up.launch.secret_values import SecretValues
from secure_up.targets import swarm_translate as tr
from secure_up.targets.interface import dependents

DBPASS = "p@ss w0rd $HOME ${X} 'q' \"d\" back\\slash `tick`"
SECRETS = SecretValues({"DBPASS": DBPASS, "EMPTY": ""})
TOKENS = tr.placeholder_tokens(SECRETS, "NONCE1234")
TOKEN = TOKENS["DBPASS"]
KEY = tr.naming_key([b"k" * 32])


def model(**services: Any) -> dict[str, Any]:
    return {"name": "p", "services": services, "volumes": {"data": {"name": "p_data"}}}


def web(**more: Any) -> dict[str, Any]:
    return {
        "image": "web:1",
        "environment": {
            "DATABASE_URL": f"postgresql://u:{TOKEN}@db/x",
            "PLAIN": "a$$b",
        },
        **more,
    }


def translate(
    m: dict[str, Any], images: dict[str, tr.ImageConfig | None] | None = None
) -> tr.StackPlan:
    if images is None:
        images = {"web:1": tr.ImageConfig(("/entry.sh",), ("serve", "--port", "$PORT"))}
    return tr.translate("st", m, TOKENS, SECRETS, KEY, images, secrets_source="s.env")


def test_tokens_skip_empty_values_and_hold_only_letters_and_digits() -> None:
    assert set(TOKENS) == {"DBPASS"}
    assert TOKEN.isalnum()


def test_a_secret_environment_entry_becomes_a_mounted_secret_and_leaves_no_value() -> None:
    plan = translate(model(web=web()))
    service = plan.document["services"]["web"]
    assert service["environment"] == {"PLAIN": "a$$b"}  # Compose's printed form, kept
    assert {"source": "env_web_DATABASE_URL", "target": "secure-up-env-DATABASE_URL"} in service[
        "secrets"
    ]
    (spec,) = plan.secrets
    assert spec.value.text() == f"postgresql://u:{DBPASS}@db/x"
    assert spec.name == f"st_web_DATABASE_URL_{spec.version}"
    assert spec.labels["io.secure-up.variable"] == "DATABASE_URL"
    assert spec.labels["io.secure-up.secrets-file"] == "s.env"
    assert plan.document["secrets"]["env_web_DATABASE_URL"] == {"external": True, "name": spec.name}
    text = plan.stack_yaml() + plan.dry_run_yaml() + repr(plan)
    assert DBPASS not in text
    assert "p@ss" not in text
    assert f"<secret DATABASE_URL v:{spec.version}>" in plan.dry_run_yaml()


def test_the_shim_runs_the_images_entrypoint_and_command_escaped_for_the_stack_file() -> None:
    service = translate(model(web=web())).document["services"]["web"]
    assert service["entrypoint"] == ["/bin/sh", tr.SHIM_PATH, "DATABASE_URL", "--", "/entry.sh"]
    assert service["command"] == ["serve", "--port", "$$PORT"]
    assert service["configs"][0]["target"] == tr.SHIM_PATH


def test_a_compose_entrypoint_and_command_win_over_the_image() -> None:
    service = translate(model(web=web(entrypoint=["run"], command=["x"])), images={})
    spec = service.document["services"]["web"]
    assert spec["entrypoint"][-2:] == ["--", "run"]
    assert spec["command"] == ["x"]


def test_an_image_nobody_can_inspect_is_an_error_naming_service_and_field() -> None:
    with pytest.raises(tr.TranslationError, match="service web, field entrypoint"):
        translate(model(web=web()), images={"web:1": None})


@pytest.mark.parametrize("field", ["command", "labels", "healthcheck", "extra_hosts"])
def test_a_secret_anywhere_but_the_environment_is_an_error(field: str) -> None:
    value: Any = {"test": ["CMD", TOKEN]} if field == "healthcheck" else [f"x{TOKEN}"]
    with pytest.raises(tr.TranslationError, match=f"service web, field {field}") as caught:
        translate(model(web=web(**{field: value})))
    assert DBPASS not in str(caught.value)


def test_a_top_level_secret_from_the_environment_is_native() -> None:
    m = model(db={"image": "pg", "environment": {"POSTGRES_PASSWORD_FILE": "/run/secrets/pw"},
                  "secrets": [{"source": "pw"}]})  # fmt: skip
    m["secrets"] = {"pw": {"name": "p_pw", "environment": "DBPASS"}}
    plan = translate(m, images={})
    service = plan.document["services"]["db"]
    assert "entrypoint" not in service  # no shim: the image reads the file itself
    assert service["secrets"] == [{"source": "pw"}]
    (spec,) = plan.secrets
    assert spec.value.text() == DBPASS
    assert plan.document["secrets"]["pw"]["name"] == spec.name
    assert dependents(plan.uses, "DBPASS") == ["db"]


def test_versions_are_stable_and_change_with_the_value_and_the_key() -> None:
    first = translate(model(web=web())).secrets[0]
    assert translate(model(web=web())).secrets[0].name == first.name
    other = SecretValues({"DBPASS": DBPASS + "!"})
    images: dict[str, tr.ImageConfig | None] = {"web:1": tr.ImageConfig(("run",))}
    changed = tr.translate("st", model(web=web()), TOKENS, other, KEY, images)
    assert changed.secrets[0].version != first.version
    rekeyed = tr.version_of(tr.naming_key([b"j" * 32]), "st", "web", "DATABASE_URL", DBPASS)
    assert rekeyed != tr.version_of(KEY, "st", "web", "DATABASE_URL", DBPASS)
    assert len(tr.versioned_name("s" * 80, "svc", "VAR", first.version)) == tr.MAX_NAME_LENGTH


def test_swarm_specific_mapping() -> None:
    m = model(
        db=web(network_mode="host", ports=[{"target": 5000, "published": "5000"}],
               volumes=[{"type": "volume", "source": "data", "target": "/d", "volume": {}}],
               extra_hosts=["db=127.0.0.1"], build={"context": "."},
               depends_on={"mig": {"condition": "service_completed_successfully"}}),
        mig={"image": "web:1", "command": ["migrate"]},
        web=web(ports=[{"target": 80, "published": "8080", "host_ip": "127.0.0.1"}]),
    )  # fmt: skip
    plan = translate(m)
    db, mig, web_ = (plan.document["services"][n] for n in ("db", "mig", "web"))
    assert db["networks"] == ["hostnet"]
    assert plan.document["networks"]["hostnet"] == {"external": True, "name": "host"}
    assert not {"ports", "build", "depends_on"} & set(db)
    assert db["extra_hosts"] == ["db:127.0.0.1"]
    assert db["volumes"] == [{"type": "volume", "source": "data", "target": "/d"}]
    assert db["deploy"]["update_config"]["order"] == "stop-first"
    assert web_["deploy"]["update_config"]["order"] == "start-first"
    assert web_["ports"] == [
        {"target": 80, "published": 8080, "protocol": "tcp", "mode": "ingress"}
    ]
    assert plan.jobs == ("mig",)
    assert mig["deploy"]["restart_policy"]["condition"] == "on-failure"
    assert plan.document["volumes"] == {"data": {}}
    assert any("host_ip" in note for note in plan.notes)


def test_the_stack_file_is_valid_yaml_and_never_renders_a_value() -> None:
    plan = translate(model(web=web()))
    assert yaml.safe_load(plan.stack_yaml())["version"] == tr.STACK_FILE_VERSION
    with pytest.raises(TypeError):
        tr.render_yaml({"x": tr.SecretText("v")})
    assert DBPASS not in repr(tr.SecretText(DBPASS)) + str(tr.SecretText(DBPASS))


def test_prune_keeps_what_is_used_and_the_newest_previous_versions() -> None:
    existing = [
        tr.ExistingObject(f"v{i}", "secret:web:URL", f"2024-01-0{i}T00:00:00Z") for i in range(1, 5)
    ]
    assert tr.to_remove(existing, {"v4"}, keep=1) == ["v1", "v2"]
    assert tr.to_remove(existing, {"v4"}, keep=0) == ["v1", "v2", "v3"]
    assert tr.to_remove(existing, {"v2"}, keep=2) == ["v1"]


def test_the_shim_exports_each_value_exactly_and_execs_the_command(tmp_path: Any) -> None:
    # The real sh on the shim's own text, with the mount directory redirected.
    secrets_dir = tmp_path / "run"
    secrets_dir.mkdir()
    value = DBPASS + "\n\n"  # trailing newlines survive
    (secrets_dir / "secure-up-env-A").write_text(value)
    script = tr.SHIM_SCRIPT.replace("/run/secrets/", f"{secrets_dir}/")
    (tmp_path / "shim.sh").write_text(script)
    result = subprocess.run(
        [
            "sh",
            str(tmp_path / "shim.sh"),
            "A",
            "--",
            "sh",
            "-c",
            'printf %s "$A"; echo "|$1"',
            "-",
            "arg",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.stdout == value + "|arg\n"
