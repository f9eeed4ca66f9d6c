"""Web hardening: CSRF on every POST, security headers on every page, cookie flags, no
stack traces, and what the upload path accepts. Routes come from the url_map, so a new
route is covered when it is added."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.accounts.passwords import hash_password
from storage.documents.models import Document
from tests.web.security import authorization_matrix as matrix
from tests.web.security.conftest import make_app
from tests.web.security.routes import address, endpoint_methods
from tests.web.security.world import enter, fingerprint, pending

GETS = [(e, r) for e, m, r in endpoint_methods() if m == "GET"]
POSTS = [(e, r) for e, m, r in endpoint_methods() if m == "POST"]


def url_of(app, world, endpoint: str, rule: str) -> str:
    row = matrix.row(endpoint) or matrix.Row(matrix.SIGNED_IN)
    return address(app, endpoint, rule, row.url_values(world.url_values()))


def admin_of_owner(world):
    """The partnership administrator in the owning agency: allowed on every route."""
    return world.users[("A", Role.PARTNERSHIP_ADMIN)]


# --- CSRF -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csrf_app(engine, world_connection, tmp_path_factory):
    app = make_app(engine, world_connection, tmp_path_factory.mktemp("csrf"))
    assert app.config.get("WTF_CSRF_ENABLED", True)
    return app


@pytest.mark.parametrize(("endpoint", "rule"), POSTS, ids=[e for e, _ in POSTS])
def test_a_post_without_a_csrf_token_is_refused_and_writes_nothing(
        endpoint, rule, csrf_app, world, world_connection, rolled_back):
    row = matrix.row(endpoint) or matrix.Row(matrix.SIGNED_IN)
    values = world.url_values()
    form = {k: v.format(**values) for k, v in row.form.items()}
    client = csrf_app.test_client()
    for user in (admin_of_owner(world), None):
        enter(client, user)
        before = fingerprint(world_connection)
        response = client.post(url_of(csrf_app, world, endpoint, rule), data=form)
        assert response.status_code == 400, (endpoint, user)
        assert "Your form expired" in response.get_data(as_text=True)
        assert fingerprint(world_connection) == before, f"{endpoint} wrote without a token"


def test_a_post_with_the_pages_token_gets_past_the_csrf_check(csrf_app, world, rolled_back):
    client = csrf_app.test_client()
    enter(client, admin_of_owner(world))
    page = client.get(f"/cases/{world.case.reference}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/cases/{world.case.reference}/notes",
                           data={"csrf_token": token, "note-body": "Spoke to the victim"})
    assert response.status_code == 302
    forged = client.post(f"/cases/{world.case.reference}/notes",
                         data={"csrf_token": token[:-2] + "xx", "note-body": "Forged"})
    assert forged.status_code == 400


# --- security headers -------------------------------------------------------------------------


def check_headers(response, *, case_data: bool) -> list[str]:
    problems = []
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict([*part.strip().split(" ", 1), ""][:2] for part in csp.split(";")
                      if part.strip())
    script_src = directives.get("script-src", directives.get("default-src", ""))
    if not script_src or "'unsafe-inline'" in script_src or "'unsafe-eval'" in script_src:
        problems.append(f"script-src is not strict: {csp!r}")
    if directives.get("object-src") != "'none'":
        problems.append("object-src is not 'none'")
    if directives.get("frame-ancestors") != "'none'":
        problems.append("frame-ancestors is not 'none'")
    if headers.get("X-Frame-Options") != "DENY":
        problems.append("no X-Frame-Options: DENY")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer"):
        problems.append("the Referrer-Policy lets addresses (case references) leave the site")
    if case_data and "no-store" not in headers.get("Cache-Control", ""):
        problems.append("case data without Cache-Control: no-store")
    if response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([^']+)'", script_src)
        for tag in re.findall(r"<script\b[^>]*>", page, flags=re.I):
            if "src=" not in tag and not (nonce and f'nonce="{nonce.group(1)}"' in tag):
                problems.append(f"an inline script without the page's nonce: {tag}")
        handlers = re.findall(r"<[^>]*\son[a-z]+\s*=", page, flags=re.I)
        if handlers:
            problems.append(f"inline event handlers (blocked by the CSP): {handlers[:3]}")
        if re.search(r"href\s*=\s*[\"']?\s*javascript:", page, flags=re.I):
            problems.append("a javascript: link")
    return problems


@pytest.mark.parametrize(("endpoint", "rule"), GETS, ids=[e for e, _ in GETS])
def test_every_page_has_the_security_headers(endpoint, rule, world_app, world, rolled_back):
    client = world_app.test_client()
    if endpoint == "auth.two_factor":
        pending(client, world.colleague)  # the code step: the password was right
    else:
        enter(client, admin_of_owner(world))
    with rolled_back():
        response = client.get(url_of(world_app, world, endpoint, rule))
        response.get_data()  # a streamed body (the audit CSV): read in the savepoint
        response.close()
    assert response.status_code == 200, endpoint
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: cookies not secure
    problems = check_headers(response, case_data=endpoint not in ("static", "govuk_assets"))
    assert not problems, f"{endpoint}: " + "; ".join(problems)


def test_error_pages_and_redirects_have_them_too(world_app, world, rolled_back):
    client = world_app.test_client()
    for response in (client.get("/no-such-page"), client.get("/cases")):  # 404; to sign-in
        assert not check_headers(response, case_data=True), response.status
    enter(client, world.users[("C", Role.PRACTITIONER)])
    refused = client.get(f"/cases/{world.case.reference}")
    assert refused.status_code == 404
    assert not check_headers(refused, case_data=True)


def test_each_page_has_its_own_nonce(world_app, world, rolled_back):
    client = world_app.test_client()
    first, second = (client.get("/sign-in").headers["Content-Security-Policy"] for _ in "12")
    assert re.search(r"'nonce-[^']{16,}'", first)
    assert first != second


@pytest.fixture(scope="module")
def secure_app(engine, world_connection, tmp_path_factory):
    app = make_app(engine, world_connection, tmp_path_factory.mktemp("secure"),
                   secure_cookies=True)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_hsts_is_sent_when_cookies_are_secure(secure_app):
    response = secure_app.test_client().get("/sign-in", base_url="https://casebridge.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- cookies --------------------------------------------------------------------------------


def session_cookie(app, world) -> str:
    """The Set-Cookie header of a real sign-in (password checked)."""
    from sqlalchemy.orm import Session

    connection = app.extensions["casebridge.runtime"].sessions.kw["bind"]
    user = world.users[("A", Role.PRACTITIONER)]
    with Session(bind=connection, join_transaction_mode="create_savepoint") as db:
        db.get(type(user), user.id).password_hash = hash_password("correct horse battery")
        db.commit()
    response = app.test_client().post(
        "/sign-in", data={"email": user.email, "password": "correct horse battery"},
        base_url="https://casebridge.test")
    assert response.status_code == 302
    cookies = [c for c in response.headers.getlist("Set-Cookie")
               if c.startswith("casebridge_session=")]
    assert len(cookies) == 1
    return cookies[0]


def test_the_session_cookie_is_httponly_and_samesite(world_app, world, rolled_back):
    cookie = session_cookie(world_app, world)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # secure_cookies is off: plain HTTP in development


def test_the_session_cookie_is_secure_when_the_setting_says(secure_app, world, rolled_back):
    cookie = session_cookie(secure_app, world)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


# --- no stack traces ------------------------------------------------------------------------


def test_an_unexpected_error_shows_the_error_page_without_a_traceback(
        engine, world_connection, tmp_path, world, rolled_back, caplog):
    app = make_app(engine, world_connection, tmp_path)  # not testing: as it is served
    app.testing = False
    assert not app.debug

    @app.get("/__explode")
    def _explode():  # type: ignore[no-untyped-def]
        raise RuntimeError("internal detail: SELECT * FROM people WHERE secret")

    client = app.test_client()
    enter(client, world.users[("A", Role.PRACTITIONER)])
    response = client.get("/__explode", headers={"X-Request-Id": "req-1234"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in page
    assert "req-1234" in page  # the reference to give the administrator
    for leak in ("Traceback", "RuntimeError", "internal detail", "SELECT", 'File "'):
        assert leak not in page
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)  # logged


# --- uploads --------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def zipped(entries: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first:
            archive.writestr(stored_first, entries.pop(stored_first),
                             compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
ODT = zipped({"mimetype": b"application/vnd.oasis.opendocument.text",
              "content.xml": b"<office:document-content/>"}, stored_first="mimetype")


def upload(client, world, data: bytes, name: str, claimed: str = "application/pdf"):
    return client.post(f"/cases/{world.case.reference}/documents",
                       data={"document-file": (io.BytesIO(data), name, claimed)},
                       content_type="multipart/form-data")


def documents_of(world_connection, world) -> list[Document]:
    from sqlalchemy.orm import Session

    with Session(bind=world_connection, join_transaction_mode="create_savepoint") as db:
        return list(db.scalars(select(Document).where(Document.case_id == world.case.id)
                               .order_by(Document.id)))


@pytest.mark.parametrize(("data", "name", "stored_as"), [
    (PDF, "statement.pdf", "application/pdf"),
    (PNG, "door.png", "image/png"),
    (JPEG, "door.JPG", "image/jpeg"),
    (JPEG, "door", "image/jpeg"),
    (DOCX, "letter.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (ODT, "letter.odt", "application/vnd.oasis.opendocument.text"),
    ("Notes from the visit: café, 10:30\n".encode(), "notes.txt", "text/plain; charset=utf-8"),
], ids=["pdf", "png", "jpeg", "jpeg-without-extension", "docx", "odt", "text"])
def test_allowed_files_are_kept_with_the_type_their_bytes_say(
        world_app, world, world_connection, rolled_back, data, name, stored_as):
    client = world_app.test_client()
    enter(client, world.users[("A", Role.PRACTITIONER)])
    response = upload(client, world, data, name, claimed="application/x-msdownload")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    kept = documents_of(world_connection, world)[-1]
    assert (kept.filename, kept.content_type, kept.size_bytes) == (name, stored_as, len(data))
    download = client.get(f"/cases/{world.case.reference}/documents/{kept.id}")
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith(stored_as.split(";")[0])
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.get_data() == data


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"<!doctype html><script>alert(1)</script>", "page.html", "its name ends .html"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "report.pdf", "The file must be a PDF"),
    (b"\x7fELF\x02\x01\x01\x00", "tool", "The file must be a PDF"),
    (PDF, "photo.jpg", "The file is a PDF but its name ends .jpg"),
    (JPEG, "notes.txt", "The file is a JPEG image but its name ends .txt"),
    (zipped({"evil.exe": b"MZ"}), "archive.zip", "The file must be a PDF"),
    (zipped({"evil.exe": b"MZ"}), "letter.docx", "The file must be a PDF"),
    (b"GIF89a\x01\x00\x01\x00", "pixel.gif", "The file must be a PDF"),
    (b"plain words\x00\x01 with control bytes", "notes.txt", "The file must be a PDF"),
], ids=["html", "exe-as-pdf", "elf", "pdf-as-jpg", "jpeg-as-txt", "zip", "zip-as-docx", "gif",
        "binary-as-text"])
def test_other_files_are_refused_next_to_the_field_and_nothing_is_kept(
        world_app, world, world_connection, rolled_back, data, name, message):
    client = world_app.test_client()
    enter(client, world.users[("A", Role.PRACTITIONER)])
    before = fingerprint(world_connection)
    response = upload(client, world, data, name)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="document-file-error"' in page
    assert message in page
    assert fingerprint(world_connection) == before


@pytest.fixture(scope="module")
def small_upload_app(engine, world_connection, tmp_path_factory):
    app = make_app(engine, world_connection, tmp_path_factory.mktemp("small"), upload_max_mb=1)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_the_size_limit_is_a_setting(small_upload_app, world, world_connection, rolled_back):
    client = small_upload_app.test_client()
    enter(client, world.users[("A", Role.PRACTITIONER)])
    before = fingerprint(world_connection)
    just_over = upload(client, world, b"a" * (1024 * 1024 + 1), "big.txt")
    assert just_over.status_code == 400
    assert "The file must be 1 MB or smaller" in just_over.get_data(as_text=True)
    far_over = upload(client, world, b"a" * (3 * 1024 * 1024), "huge.txt")
    assert far_over.status_code == 413
    assert "Files can be up to 1 MB" in far_over.get_data(as_text=True)
    assert fingerprint(world_connection) == before
    assert upload(client, world, b"a" * (1024 * 1024), "fits.txt").status_code == 302
    page = client.get(f"/cases/{world.case.reference}").get_data(as_text=True)
    assert "up to 1 MB" in page


def test_documents_are_stored_outside_the_web_root_and_no_static_route_serves_them(
        world_app, world, world_connection, rolled_back):
    from pathlib import Path

    from casebridge.settings import load_settings

    store = world_app.extensions["casebridge.runtime"].documents
    kept = documents_of(world_connection, world)[0]
    on_disk = store.path_for(kept.sha256).resolve()
    assert on_disk.is_file()
    web_root = Path(world_app.root_path).resolve()
    served = [Path(world_app.static_folder).resolve(),
              (web_root / "static" / "vendor" / "govuk" / "assets").resolve()]
    default = load_settings(secret_key="x").documents_dir.resolve()
    for folder in (on_disk, default):
        assert web_root not in folder.parents, f"{folder} is inside the web package"
        assert not any(root == folder or root in folder.parents for root in served)
    client = world_app.test_client()
    enter(client, admin_of_owner(world))
    relative = f"{kept.sha256[:2]}/{kept.sha256}"
    for path in (f"/static/{relative}", f"/assets/{relative}", f"/static/../documents/{relative}",
                 f"/static/%2e%2e/%2e%2e/documents/{relative}", f"/documents/{relative}"):
        assert client.get(path).status_code == 404, path
