"""The forms the app's pages draw, read from the HTML (not listed by hand): for each address
a form posts to, its fields with the values the page filled in."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit


@dataclass
class Form:
    action: str  # the path it posts to
    page: str  # the page it was found on
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> values on the page
    files: list[str] = field(default_factory=list)  # names of file inputs
    state: str = ""  # the world's state the page was drawn in (see the fuzz test's STATES)
    texts: list[str] = field(default_factory=list)  # names of free-text boxes
    method: str = "post"  # "get": a filter or search form; its fields are query arguments

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, [])
        if value not in self.fields[name]:
            self.fields[name].append(value)


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None
        self.links: list[Form] = []  # links with query arguments, as GET "forms"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            path = urlsplit(urljoin(self.page, a.get("action") or self.page)).path
            self.current = Form(action=path, page=self.page,
                                method=a.get("method", "get").lower())
            self.forms.append(self.current)
            return
        if tag == "a" and a.get("href"):
            link = urlsplit(urljoin(self.page, a["href"]))
            if link.query and not link.netloc:
                self.links.append(Form(action=link.path, page=self.page, method="get",
                                       fields={k: [v] for k, v in parse_qsl(link.query)}))
        if self.current is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                self.current.files.append(name)
            elif kind in ("checkbox", "radio"):
                self.current.add(name, a.get("value", "on"))
            else:
                self.current.add(name, a.get("value", ""))
                if kind in ("text", "search", "email", "tel", "url", "password") and \
                        name not in self.current.texts:
                    self.current.texts.append(name)
        elif tag in ("textarea", "button"):
            self.current.add(name, a.get("value", ""))
            if tag == "textarea" and name not in self.current.texts:
                self.current.texts.append(name)
        elif tag == "select":
            self.select = name
            self.current.fields.setdefault(name, [])
        if tag == "option" and self.select:
            self.current.add(self.select, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def forms_on(page_url: str, html: str, state: str = "", method: str = "post") -> list[Form]:
    """The page's forms that are sent with `method` (for "get", links with query arguments
    too)."""
    parser = _Forms(page_url)
    parser.feed(html)
    found = [f for f in parser.forms if f.method == method]
    if method == "get":
        found += parser.links
    for form in found:
        form.state = state
    return found
