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
