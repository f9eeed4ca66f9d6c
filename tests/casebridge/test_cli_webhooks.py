"""`casebridge agencies webhook add/list/disable`, as a partnership sets one up."""

from __future__ import annotations


def test_add_list_and_disable_a_webhook(run_cli):
    assert run_cli("db", "upgrade").exit_code == 0
    run_cli("agencies", "create", "--name", "Hook Housing", "--code", "HH", "--type", "housing")
    assert "No webhooks" in run_cli("agencies", "webhook", "list").output

    added = run_cli("agencies", "webhook", "add", "--agency", "hh",
                    "--url", "https://housing.example/casebridge")
    assert added.exit_code == 0, added.output
    assert "Webhook 1 for HH: action.assigned, case.referred." in added.output
    secret = added.output.strip().splitlines()[-1]
    assert len(secret) >= 40

    listed = run_cli("agencies", "webhook", "list", "--agency", "HH").output
    assert "HH" in listed
    assert "active" in listed
    assert "https://housing.example/casebridge" in listed
    assert secret not in listed

    assert run_cli("agencies", "webhook", "disable", "1").output == "Webhook 1 disabled.\n"
    assert "disabled" in run_cli("agencies", "webhook", "list").output


def test_mistakes_are_named(run_cli):
    run_cli("db", "upgrade")
    run_cli("agencies", "create", "--name", "Hook Housing", "--code", "HH", "--type", "housing")
    unknown = run_cli("agencies", "webhook", "add", "--agency", "XX", "--url", "https://x.example")
    assert unknown.exit_code == 1
    assert "No agency has the code XX" in unknown.output
    plain = run_cli("agencies", "webhook", "add", "--agency", "HH",
                    "--url", "http://housing.example/hook", "--event", "case.referred")
    assert plain.exit_code == 1
    assert "url: Use https" in plain.output
    assert run_cli("agencies", "webhook", "add", "--agency", "HH", "--url", "https://x.example",
                   "--event", "case.closed").exit_code == 2
    missing = run_cli("agencies", "webhook", "disable", "7")
    assert (missing.exit_code, "Webhook 7 does not exist" in missing.output) == (1, True)
