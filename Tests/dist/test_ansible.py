"""The Ansible collection certstore.store (dist/ansible) against real stores made with the real certstore binary:
the fleet playbook on three local hosts, each module's idempotence, check mode and diff mode, failures carrying
certstore's error text and exit status, the collection build and ansible-test sanity."""

import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from support import (CONNECTOR, KBMachine, PKI, REPO, certstore, certstore_binary, certstore_json, require_tool, run,
                     snapshot)

COLLECTION = REPO / "dist/ansible"
PFX_PASSWORD = "Renewal 2027 s3cret!"


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory):
    """Environment in which ansible finds the collection as it is in the work tree (not an installed copy)."""
    require_tool("ansible-playbook", "make dist-deps installs ansible-core")
    base = tmp_path_factory.mktemp("ansible")
    collections = base / "collections/ansible_collections/certstore"
    collections.mkdir(parents=True)
    (collections / "store").symlink_to(COLLECTION)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(base / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCAL_TEMP=str(base / "tmp"), ANSIBLE_REMOTE_TEMP=str(base / "tmp"),
               ANSIBLE_HOME=str(base / "home"), ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop("ANSIBLE_CONFIG", None)
    return env


def module(env, name, args, *, check=False, diff=False, ok=(0,)):
    """One module run (`ansible localhost -m certstore.store.NAME`); returns (exit status, the result)."""
    args = dict(args, executable=certstore_binary())
    command = ["ansible", "localhost", "-m", f"certstore.store.{name}", "-a", json.dumps(args)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    result = run(command, env=env, ok=ok)
    text = result.stdout
    start = text.index(" => {") + 4
    return result.returncode, json.loads(text[start:text.rindex("}") + 1]), result


def recap(output):
    """PLAY RECAP lines → {host: {ok, changed, failed, ...}}."""
    hosts = {}
    lines = output.split("PLAY RECAP")[-1].splitlines()[1:]
    for line in lines:
        if ":" not in line:
            continue
        host, counts = line.split(":", 1)
        hosts[host.strip()] = dict((k, int(v)) for k, v in (pair.split("=") for pair in counts.split()))
    return hosts


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Three hosts: mail1 and mail2 in the KB 4495258 situation, mail3 never had the keyless certificate. One
    renewal PFX (password-protected) for all."""
    base = tmp_path_factory.mktemp("fleet")
    pki = PKI(base / "pki")
    certs = KBMachine.certificates(pki)
    hosts = {"mail1": KBMachine(base / "mail1", pki, certs), "mail2": KBMachine(base / "mail2", pki, certs),
             "mail3": KBMachine(base / "mail3", pki, certs, keyless=False)}
    pfx = pki.pfx(certs["twin"], PFX_PASSWORD)
    inventory = base / "inventory.yml"
    inventory.write_text(json.dumps({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "certstore_executable": certstore_binary(), "renewal_pfx": str(pfx), "renewal_password": PFX_PASSWORD},
        "hosts": {name: {"certstore_root": str(machine.root)} for name, machine in hosts.items()}}}))
    return hosts, inventory, certs


def playbook(env, inventory, *extra):
    return run(["ansible-playbook", "-i", inventory, COLLECTION / "playbooks/kb4495258.yml", *extra], env=env, timeout=600)


def warm(machine):
    """Reads every store once, so the store index (derived data a reader may save) is current before a snapshot."""
    for store in ("My", "CA", "Root"):
        certstore(machine.root, "list", "--store", f"LocalMachine/{store}")
    certstore(machine.root, "audit", ok=(0, 1, 2))


def test_fleet_playbook_check_mode_then_real_run_then_idempotent(ansible_env, fleet):
    hosts, inventory, certs = fleet
    twin, keyless, exch01 = certs["twin"]["thumbprint"], certs["keyless"]["thumbprint"], certs["exch01"]["thumbprint"]
    for machine in hosts.values():
        warm(machine)
        assert machine.audit()["status"] == "CRITICAL"
    before = {name: snapshot(machine.root) for name, machine in hosts.items()}

    # Check mode with diff: every change is predicted, no file of any store changes, the password never shows.
    checked = playbook(ansible_env, inventory, "--check", "--diff")
    counts = recap(checked.stdout)
    assert {h: counts[h]["failed"] for h in hosts} == {"mail1": 0, "mail2": 0, "mail3": 0}, checked.stdout
    assert counts["mail1"]["changed"] == 3 and counts["mail2"]["changed"] == 3, checked.stdout
    assert counts["mail3"]["changed"] == 2, checked.stdout  # no keyless twin to remove there
    assert f"LocalMachine/My/{twin} HasPrivateKey=True" in checked.stdout, "diff of the import"
    assert f"LocalMachine/My/{keyless} HasPrivateKey=False" in checked.stdout, "diff of the removal"
    assert PFX_PASSWORD not in checked.stdout + checked.stderr
    for name, machine in hosts.items():
        assert snapshot(machine.root) == before[name], f"check mode changed files of {name}"

    # The real run: the KB fix on each host.
    applied = playbook(ansible_env, inventory)
    counts = recap(applied.stdout)
    assert {h: (counts[h]["changed"], counts[h]["failed"]) for h in hosts} == \
        {"mail1": (3, 0), "mail2": (3, 0), "mail3": (2, 0)}, applied.stdout
    assert PFX_PASSWORD not in applied.stdout + applied.stderr
    for name, machine in hosts.items():
        listed = {c["thumbprint"]: c for c in certstore_json(machine.root, "list")}
        assert listed[twin]["hasPrivateKey"] is True and listed[twin]["privateKeyExportable"] is True, name
        assert keyless not in listed, name
        bindings = certstore_json(machine.root, "bindings")
        assert bindings["defaultSmtpCertificate"] == exch01, f"{name}: the default SMTP certificate was kept"
        assert twin in [b["thumbprint"] for b in bindings["services"]["SMTP"]], name
        resolved = certstore_json(machine.root, "connector", "resolve", CONNECTOR)
        assert resolved["chosen"]["thumbprint"] == twin, f"{name}: {resolved}"
        assert machine.audit()["status"] in ("OK", "WARNING"), name
    # The keyless certificate is in mail1's trash, restorable.
    trash = certstore_json(hosts["mail1"].root, "trash", "list")
    assert any(entry["thumbprint"] == keyless for entry in trash), trash

    # The second run changes nothing anywhere, and neither does check mode now.
    again = playbook(ansible_env, inventory)
    counts = recap(again.stdout)
    assert {h: (counts[h]["changed"], counts[h]["failed"]) for h in hosts} == \
        {"mail1": (0, 0), "mail2": (0, 0), "mail3": (0, 0)}, again.stdout
    after = {name: snapshot(machine.root) for name, machine in hosts.items()}
    checked = playbook(ansible_env, inventory, "--check")
    counts = recap(checked.stdout)
    assert all(counts[h]["changed"] == 0 and counts[h]["failed"] == 0 for h in hosts), checked.stdout
    for name, machine in hosts.items():
        assert snapshot(machine.root) == after[name], name


def test_certificate_keyless_refused_unless_allow_keyless(ansible_env, tmp_path):
    pki = PKI(tmp_path / "pki")
    certs = KBMachine.certificates(pki)
    machine = KBMachine(tmp_path / "root", pki, certs, keyless=False)
    root, keyless = str(machine.root), machine.keyless["thumbprint"]
    args = {"root": root, "path": str(machine.keyless["cer"])}

    # Check mode warns; the real run is refused (2) with certstore's explanation, and nothing is imported.
    _, checked, run = module(ansible_env, "certificate", args, check=True)
    assert "allow_keyless" in run.stdout + run.stderr, run.stdout + run.stderr  # Ansible prints warnings as [WARNING]
    status, result, _ = module(ansible_env, "certificate", args, ok=(2,))
    assert status == 2 and result["rc"] == 2, result
    assert "KB 4495258" in result["msg"] and "PKCS#12" in result["msg"], result
    assert keyless not in [c["thumbprint"] for c in certstore_json(machine.root, "list")]

    # allow_keyless: imported without its key, as asked.
    _, result, _ = module(ansible_env, "certificate", dict(args, allow_keyless=True))
    assert result["changed"] is True, result
    listed = {c["thumbprint"]: c for c in certstore_json(machine.root, "list")}
    assert listed[keyless]["hasPrivateKey"] is False


@pytest.fixture
def machine(tmp_path):
    pki = PKI(tmp_path / "pki")
    return KBMachine(tmp_path / "root", pki, KBMachine.certificates(pki))


def test_certificate_present_absent_and_failures(ansible_env, machine):
    root = str(machine.root)
    twin, keyless = machine.twin["thumbprint"], machine.keyless["thumbprint"]
    pfx = machine.pki.pfx(machine.twin, "pw")

    # A wrong password: certstore's error text and its exit status (65), nothing imported.
    status, result, _ = module(ansible_env, "certificate", {"root": root, "path": str(pfx), "password": "xyzzy-42"}, ok=(2,))
    assert status == 2 and result["rc"] == 65, result
    assert "MAC verification failed" in result["msg"] and "check the password" in result["msg"], result
    assert "xyzzy-42" not in json.dumps(result)

    # Removing the keyless twin before the renewal is there: certstore refuses (2), the module says why.
    status, result, _ = module(ansible_env, "certificate", {"root": root, "state": "absent", "thumbprint": keyless}, ok=(2,))
    assert status == 2 and result["rc"] == 2, result
    assert CONNECTOR in result["msg"], result
    assert keyless in [c["thumbprint"] for c in certstore_json(machine.root, "list")]

    # Import with a friendly name: changed; again: not changed; a new friendly name: changed (updated).
    args = {"root": root, "path": str(pfx), "password": "pw", "friendly_name": "mail 2027"}
    _, first, _ = module(ansible_env, "certificate", args)
    assert first["changed"] is True and twin in first["thumbprints"], first
    assert {i["thumbprint"]: i["action"] for i in first["items"]}[twin] == "Added"
    _, second, _ = module(ansible_env, "certificate", args)
    assert second["changed"] is False, second
    _, renamed, shown = module(ansible_env, "certificate", dict(args, friendly_name="mail 2027 b"), check=True, diff=True)
    assert renamed["changed"] is True and f"+LocalMachine/My/{twin} HasPrivateKey=True FriendlyName=mail 2027 b" in shown.stdout, \
        shown.stdout
    assert f"-LocalMachine/My/{twin} HasPrivateKey=True FriendlyName=mail 2027 " in shown.stdout, shown.stdout
    assert {c["thumbprint"]: c for c in certstore_json(machine.root, "list")}[twin]["friendlyName"] == "mail 2027"
    _, renamed, _ = module(ansible_env, "certificate", dict(args, friendly_name="mail 2027 b"))
    assert renamed["changed"] is True
    assert {c["thumbprint"]: c for c in certstore_json(machine.root, "list")}[twin]["friendlyName"] == "mail 2027 b"

    # The key of a certificate already in the store arrives: keyAdded.
    _, keyed, _ = module(ansible_env, "certificate", {"root": root, "path": str(machine.pki.with_key(machine.keyless))},
                         check=True)
    assert keyed["changed"] is True and keyed["items"][0]["action"] == "KeyAdded", keyed
    assert {c["thumbprint"]: c for c in certstore_json(machine.root, "list")}[keyless]["hasPrivateKey"] is False

    # Now the removal is allowed; check mode first (nothing removed), then for real, then nothing to do.
    absent = {"root": root, "state": "absent", "thumbprint": keyless.lower()}
    _, result, _ = module(ansible_env, "certificate", absent, check=True)
    assert result["changed"] is True and any(twin in note for note in result["notes"]), result
    assert keyless in [c["thumbprint"] for c in certstore_json(machine.root, "list")]
    _, result, _ = module(ansible_env, "certificate", absent)
    assert result["changed"] is True and result["trash_id"], result
    assert keyless not in [c["thumbprint"] for c in certstore_json(machine.root, "list")]
    _, result, _ = module(ansible_env, "certificate", absent)
    assert result["changed"] is False, result


@pytest.mark.parametrize("file_type", ["der", "pem", "pkcs12"])
def test_certificate_exported_is_idempotent(ansible_env, machine, tmp_path, file_type):
    root = str(machine.root)
    pfx = machine.pki.pfx(machine.twin, "pw")
    module(ansible_env, "certificate", {"root": root, "path": str(pfx), "password": "pw"})
    out = tmp_path / f"out.{file_type}"
    args = {"root": root, "state": "exported", "thumbprint": machine.twin["thumbprint"], "path": str(out),
            "file_type": file_type, "password": "export pw"}
    _, result, _ = module(ansible_env, "certificate", args, check=True)
    assert result["changed"] is True and not out.exists(), result
    _, result, _ = module(ansible_env, "certificate", args)
    assert result["changed"] is True and out.exists(), result
    written = out.read_bytes()
    _, result, _ = module(ansible_env, "certificate", args)
    assert result["changed"] is False, result
    assert out.read_bytes() == written
    # What was written is that certificate (read back by certstore itself; the PKCS#12 carries the key).
    scratch = tmp_path / "scratch"
    scratch.mkdir(mode=0o700)
    extra = ["--password-stdin"] if file_type == "pkcs12" else []
    # A bare certificate (der, pem) has no key in the scratch store: --allow-keyless reads it all the same.
    items = json.loads(certstore(scratch, "import", out, "--format", "json", "--allow-keyless", *extra,
                                 input="export pw\n" if extra else None).stdout)["items"]
    mine = [i for i in items if i["thumbprint"] == machine.twin["thumbprint"]]
    assert mine and mine[0]["hasPrivateKey"] is (file_type == "pkcs12"), items
    # Another certificate in that file: changed again.
    other = dict(args, thumbprint=machine.exch01["thumbprint"])
    if file_type == "pkcs12":
        certstore(machine.root, "import", machine.pki.with_key(machine.exch01), "--exportable")
    _, result, _ = module(ansible_env, "certificate", other)
    assert result["changed"] is True and out.read_bytes() != written, result


def test_binding_services_and_connector(ansible_env, machine):
    root = str(machine.root)
    twin, exch01 = machine.twin["thumbprint"], machine.exch01["thumbprint"]

    # Exchange's refusal: the keyless certificate cannot be bound (PrivateKeyMissing), with certstore's text and status.
    status, result, _ = module(ansible_env, "binding", {"root": root, "thumbprint": machine.keyless["thumbprint"],
                                                        "services": ["SMTP"]}, ok=(2,))
    assert status == 2 and result["rc"] == 2 and "PrivateKeyMissing" in result["msg"], result

    certstore(machine.root, "import", machine.pki.pfx(machine.twin))
    smtp = {"root": root, "thumbprint": twin, "services": ["SMTP", "IMAP"]}
    _, result, shown = module(ansible_env, "binding", smtp, check=True, diff=True)
    assert result["changed"] is True and f'+        "{twin}"' in shown.stdout, shown.stdout
    assert f'-        "{twin}"' not in shown.stdout
    assert certstore_json(machine.root, "bindings")["services"]["SMTP"] == \
        [b for b in certstore_json(machine.root, "bindings")["services"]["SMTP"] if b["thumbprint"] != twin]
    _, result, _ = module(ansible_env, "binding", smtp)
    assert result["changed"] is True and result["default_smtp_certificate"] == exch01, result
    assert twin in result["bindings"]["IMAP"]
    _, result, _ = module(ansible_env, "binding", smtp)
    assert result["changed"] is False, result
    # Answer Yes to the default-SMTP question: the default moves, once.
    _, result, _ = module(ansible_env, "binding", dict(smtp, services=["SMTP"], default_smtp="overwrite"))
    assert result["changed"] is True and result["default_smtp_certificate"] == twin, result
    _, result, _ = module(ansible_env, "binding", dict(smtp, services=["SMTP"], default_smtp="overwrite"))
    assert result["changed"] is False, result
    assert certstore_json(machine.root, "bindings")["defaultSmtpCertificate"] == twin
    # Unbind IMAP, then nothing left to unbind.
    unbind = {"root": root, "thumbprint": twin, "services": ["IMAP"], "state": "absent"}
    _, result, _ = module(ansible_env, "binding", unbind)
    assert result["changed"] is True and twin not in result["bindings"]["IMAP"], result
    _, result, _ = module(ansible_env, "binding", unbind)
    assert result["changed"] is False

    # Connectors: point the KB connector at the renewed certificate's name, add a second one, remove it.
    connector = {"root": root, "connector": CONNECTOR, "thumbprint": twin, "fqdn": "mail.contoso.com"}
    _, result, _ = module(ansible_env, "binding", connector, diff=True)
    assert result["changed"] is True, result  # the FQDN is new; the name is the same issuer and subject
    assert result["connector"]["fqdn"] == "mail.contoso.com"
    _, result, _ = module(ansible_env, "binding", connector)
    assert result["changed"] is False, result
    second = {"root": root, "connector": "Relay", "tls_certificate_name": "<I>CN=Other CA<S>CN=relay.contoso.com"}
    _, result, _ = module(ansible_env, "binding", second, check=True)
    assert result["changed"] is True
    assert [c["name"] for c in certstore_json(machine.root, "connector", "list")] == [CONNECTOR]
    _, result, _ = module(ansible_env, "binding", second)
    assert result["changed"] is True and result["connector"]["tlsCertificateName"] == second["tls_certificate_name"]
    _, result, _ = module(ansible_env, "binding", second)
    assert result["changed"] is False
    _, result, _ = module(ansible_env, "binding", {"root": root, "connector": "Relay", "state": "absent"})
    assert result["changed"] is True
    assert [c["name"] for c in certstore_json(machine.root, "connector", "list")] == [CONNECTOR]
    _, result, _ = module(ansible_env, "binding", {"root": root, "connector": "Relay", "state": "absent"})
    assert result["changed"] is False


def test_info_reports_inventory_and_audit_as_facts(ansible_env, machine):
    _, result, _ = module(ansible_env, "info", {"root": str(machine.root)})
    assert result["changed"] is False
    facts = result["ansible_facts"]["certstore"]
    my = {c["thumbprint"]: c for c in facts["certificates"]["My"]}
    assert my[machine.keyless["thumbprint"]]["hasPrivateKey"] is False
    assert [c["thumbprint"] for c in facts["certificates"]["Root"]] == [machine.pki.ca["thumbprint"]]
    assert facts["bindings"]["defaultSmtpCertificate"] == machine.exch01["thumbprint"]
    assert facts["connectors"][0]["name"] == CONNECTOR
    assert facts["audit"]["status"] == "CRITICAL"
    kb = [f for f in facts["audit"]["findings"] if f["check"] == "connector-keyless-certificate"]
    assert len(kb) == 1 and kb[0]["severity"] == "CRITICAL" and machine.keyless["thumbprint"] in kb[0]["detail"], kb
    assert result["audit"] == facts["audit"]
    # A root with no store: the audit is UNKNOWN, reported, not a crash.
    status, missing, _ = module(ansible_env, "info", {"root": str(machine.root.parent / "nowhere")}, ok=(0, 2))
    assert status == 2 or missing["audit"]["status"] == "UNKNOWN", missing


def test_collection_builds(ansible_env, tmp_path):
    run(["ansible-galaxy", "collection", "build", COLLECTION, "--output-path", tmp_path], env=ansible_env)
    tarball = tmp_path / "certstore-store-1.0.0.tar.gz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for expected in ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "plugins/modules/certificate.py",
                     "plugins/modules/binding.py", "plugins/modules/info.py", "plugins/module_utils/certstore.py",
                     "playbooks/kb4495258.yml", "docs/fleet.md"):
        assert expected in names, sorted(names)


def test_ansible_test_sanity(ansible_env, tmp_path):
    """`ansible-test sanity` on the collection (it must sit in an ansible_collections/NAMESPACE/NAME tree)."""
    require_tool("ansible-test", "make dist-deps installs ansible-core")
    tree = tmp_path / "ansible_collections/certstore/store"
    shutil.copytree(COLLECTION, tree, ignore=shutil.ignore_patterns("tests/output", "*.tar.gz", "__pycache__"))
    # ansible-test puts pip into its sanity virtualenvs with a get-pip.py it downloads from a host CI cannot reach;
    # it reads that script from its cache first, so give it the ensurepip-based stand-in.
    version = "24.2"
    cache = Path.home() / ".ansible/test/cache" / f"get_pip_{version.replace('.', '_')}.py"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(__file__).with_name("ansible_test_get_pip.py"), cache)
    env = dict(ansible_env)
    env.pop("ANSIBLE_COLLECTIONS_PATH")
    result = run(["ansible-test", "sanity", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
                  "--requirements", "--color", "no"], cwd=tree, env=env, ok=(0, 1), timeout=1500)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert 'Running sanity test "validate-modules"' in result.stdout, result.stdout[-3000:]
