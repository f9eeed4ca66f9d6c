def test_commands_before_upgrade_say_how_to_create_the_database(run_cli):
    result = run_cli("agencies", "list")
    assert result.exit_code == 1
    assert "casebridge db upgrade" in result.output


def test_newcomer_sequence_upgrade_check_agency_user_verify(run_cli):
    assert run_cli("db", "upgrade").exit_code == 0
    check = run_cli("db", "check")
    assert check.exit_code == 0, check.output
    assert "matches the models" in check.output

    created = run_cli("agencies", "create", "--name", "Test Police", "--code", "tp",
                      "--type", "police")
    assert created.exit_code == 0, created.output
    assert "TP" in run_cli("agencies", "list").output

    user = run_cli("users", "create", "--agency", "TP", "--email", "Officer@Test.Example",
                   "--name", "Officer One", "--role", "practitioner", "--role", "panel_member",
                   "--password-stdin", stdin="three random words\n")
    assert user.exit_code == 0, user.output
    assert "officer@test.example" in user.output

    verify = run_cli("audit", "verify")
    assert verify.exit_code == 0
    assert "intact: 2 entries" in verify.output


def test_service_errors_are_messages_not_tracebacks(run_cli):
    run_cli("db", "upgrade")
    run_cli("agencies", "create", "--name", "Test Police", "--code", "TP", "--type", "police")
    duplicate = run_cli("agencies", "create", "--name", "Other", "--code", "TP",
                        "--type", "council")
    assert duplicate.exit_code == 1
    assert "already used" in duplicate.output
    assert "Traceback" not in duplicate.output

    short = run_cli("users", "create", "--agency", "TP", "--email", "a@b.example",
                    "--name", "A", "--role", "auditor", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output

    unknown = run_cli("users", "create", "--agency", "NOPE", "--email", "a@b.example",
                      "--name", "A", "--role", "auditor", "--no-password")
    assert unknown.exit_code == 1
    assert "No agency has the code NOPE" in unknown.output


def test_bad_configuration_stops_with_the_setting_named(run_cli, monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", "oracle://nowhere")
    result = run_cli("db", "upgrade")
    assert result.exit_code == 1
    assert "CASEBRIDGE_DATABASE_URL" in result.output


def test_demo_generate_refuses_a_database_with_data_unless_asked_to_skip(run_cli):
    run_cli("db", "upgrade")
    first = run_cli("demo", "generate", "--cases", "5")
    assert first.exit_code == 0, first.output
    assert "5 cases" in first.output
    again = run_cli("demo", "generate", "--cases", "5")
    assert again.exit_code == 1
    skipped = run_cli("demo", "generate", "--cases", "5", "--if-empty")
    assert skipped.exit_code == 0
    assert "leaving it as it is" in skipped.output


def test_users_disable_and_enable_end_sessions_and_are_audited(run_cli, scratch_engine):
    from sqlalchemy import select

    from storage.accounts.models import User
    from storage.audit.models import AuditEntry
    from storage.db import make_session_factory

    run_cli("db", "upgrade")
    run_cli("agencies", "create", "--name", "Test Police", "--code", "TP", "--type", "police")
    run_cli("users", "create", "--agency", "TP", "--email", "leaver@test.example",
            "--name", "Leaver", "--role", "practitioner", "--password-stdin",
            stdin="three random words\n")
    disabled = run_cli("users", "disable", "Leaver@Test.Example")
    assert disabled.exit_code == 0, disabled.output
    assert "leaver@test.example is disabled and signed out" in disabled.output
    assert "already disabled" in run_cli("users", "disable", "leaver@test.example").output
    with make_session_factory(scratch_engine)() as session:
        user = session.scalar(select(User).where(User.email == "leaver@test.example"))
        assert (user.active, user.session_epoch) == (False, 1)
    assert "can sign in again" in run_cli("users", "enable", "leaver@test.example").output
    with make_session_factory(scratch_engine)() as session:
        changes = session.scalars(select(AuditEntry.changes)).all()
    assert any("account_disabled" in c for c in changes)
    assert any("account_enabled" in c for c in changes)
    missing = run_cli("users", "disable", "nobody@test.example")
    assert missing.exit_code == 1
    assert "No account for nobody@test.example" in missing.output
    assert run_cli("audit", "verify").exit_code == 0


def test_demo_code_gives_demo_accounts_their_code_and_nobody_else(run_cli):
    import pyotp

    from storage.accounts.two_factor import demo_secret

    run_cli("db", "upgrade")
    run_cli("demo", "generate", "--cases", "0")
    email = "practitioner@demo.casebridge.test"
    result = run_cli("demo", "code", email)
    assert result.exit_code == 0, result.output
    assert pyotp.TOTP(demo_secret(email)).verify(result.output.strip(), valid_window=1)
    run_cli("agencies", "create", "--name", "Real Police", "--code", "RP", "--type", "police")
    run_cli("users", "create", "--agency", "RP", "--email", "real@police.example",
            "--name", "Real", "--role", "manager", "--password-stdin",
            stdin="three random words\n")
    refused = run_cli("demo", "code", "real@police.example")
    assert refused.exit_code == 1
    assert "not a demo account" in refused.output
    assert run_cli("demo", "code", "nobody@demo.casebridge.test").exit_code == 1
