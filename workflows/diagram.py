"""Draw a case type for managers: Mermaid text, and a standalone accessible SVG.

Pure Python, no browser and no system binaries (graphviz, mermaid-cli), so a diagram can be
drawn wherever the app runs. The SVG uses a small layered (Sugiyama-style) layout: rank by
longest path, dummy nodes on long edges and labels, barycenter ordering, least-squares x.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate, combinations, pairwise
from xml.sax.saxutils import escape, quoteattr

from workflows.model import CLOSED, Definition, Recurrence, Stage, Transition

START_NODE, CLOSED_NODE = "(start)", "(closed)"  # not valid stage keys, so never clash
TEXT, BLUE, GREY, BORDER, FILL, ORANGE = (
    "#0b0c0c", "#1d70b8", "#505a5f", "#b1b4b6", "#f3f2f1", "#f47738"
)
MARGIN, GAP_X, GAP_Y, DUMMY_W = 24.0, 28.0, 26.0, 8.0
LOOP_REACH = 40.0  # how far a self-loop bulges right of its box


@dataclass(frozen=True)
class Link:
    """One arrow before layout: a transition target, a start, or a recurrence."""

    source: str
    target: str
    label: str | None
    kind: str  # "start" | "transition" | "recurring"


@dataclass(frozen=True)
class Box:
    key: str
    kind: str  # "start" | "stage" | "closed" | "label" | "dummy"
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Edge:
    """A laid-out arrow. `points` are joined by vertical-tangent cubic Beziers (a self-loop's
    are the four points of one cubic); `back` edges point up, against the flow."""

    source: str
    target: str
    label: str | None
    kind: str  # "start" | "transition" | "recurring" | "loop"
    back: bool
    points: tuple[tuple[float, float], ...]
    label_box: Box | None


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Box]  # stage keys, START_NODE and CLOSED_NODE
    edges: tuple[Edge, ...]
    width: float
    height: float


def edge_label(transition: Transition) -> str | None:
    """The guard, else "otherwise", else the transition's own label."""
    if transition.when:
        return transition.when
    return "otherwise" if transition.otherwise else transition.label


def describe_recurrence(rec: Recurrence) -> str:
    """'every 14 calendar days (high) / 28 (medium) / otherwise 56 calendar days'."""
    parts, unit = [], None
    for risk, every in rec.by_risk.items():
        parts.append(f"{every.amount if every.unit is unit else every} ({risk})")
        unit = every.unit
    if rec.every:
        parts.append(f"otherwise {rec.every}" if parts else str(rec.every))
    return "every " + " / ".join(parts) if parts else "recurring"


def links(definition: Definition) -> list[Link]:
    """Every arrow of the case type; targets that name no stage are left out (validation's job)."""
    known = set(definition.stages)
    out = [Link(START_NODE, key, None, "start") for key in definition.start if key in known]
    for stage in definition.stages.values():
        for transition in stage.transitions:
            for target in transition.to:
                if target == CLOSED or target in known:
                    target = CLOSED_NODE if target == CLOSED else target
                    out.append(Link(stage.key, target, edge_label(transition), "transition"))
        if stage.recurring:
            text = describe_recurrence(stage.recurring)
            out += [Link(k, stage.key, text, "recurring") for k in stage.recurring.while_in
                    if k in known]
    return out


# --- Mermaid -------------------------------------------------------------------------------

_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;",
                     "|": "#124;", "`": "#96;", "\n": " ", "\r": " "}


def _mm(text: str) -> str:
    return "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in text)


def _mm_id(node: str) -> str:
    return {START_NODE: "start", CLOSED_NODE: "closed"}.get(node, f"st_{node}")


def to_mermaid(definition: Definition, *, highlight: frozenset[str] = frozenset()) -> str:
    """Mermaid `flowchart TD` text, for pasting into GitHub, wikis or the Mermaid live editor."""
    out = ["flowchart TD", f"    %% {_mm(definition.name)} v{definition.version}",
           '    start(("Start"))']
    for stage in definition.stages.values():
        text = _mm(stage.name) + (f"<br/>{_mm(stage.deadline.describe())}" if stage.deadline
                                  else "")
        out.append(f'    {_mm_id(stage.key)}["{text}"]')
    arrows = links(definition)
    if any(link.target == CLOSED_NODE for link in arrows):
        out.append('    closed(["Closed"])')
    for link in arrows:
        arrow = "-.->" if link.kind == "recurring" else "-->"
        label = f'|"{_mm(link.label)}"|' if link.label else ""
        out.append(f"    {_mm_id(link.source)} {arrow}{label} {_mm_id(link.target)}")
    out += ["    classDef recurring stroke-dasharray:5 5",
            f"    classDef changed stroke:{ORANGE},stroke-width:4px"]
    for name, keys in (("recurring", [s.key for s in definition.recurring_stages]),
                       ("changed", [k for k in definition.stages if k in highlight])):
        if keys:
            out.append(f"    class {','.join(_mm_id(k) for k in keys)} {name}")
    return "\n".join(out) + "\n"


# --- Layout --------------------------------------------------------------------------------


def _stage_text(stage: Stage, names: dict[str, str]) -> tuple[list[str], list[str]]:
    """(bold title lines, small grey detail lines) shown in a stage's box."""
    title = textwrap.wrap(stage.name, 28) or [stage.key]
    details = [stage.deadline.describe()] if stage.deadline else []
    details.append(f"Worked by {stage.worked_by.describe()}")
    if stage.join:
        details.append("Opens when all of " + ", ".join(names.get(k, k) for k in stage.join)
                       + " are done")
    if stage.recurring:
        details.append("Recurs " + describe_recurrence(stage.recurring))
    return title, [line for text in details for line in textwrap.wrap(text, 42)]


def _stage_size(title: list[str], details: list[str]) -> tuple[float, float]:
    width = max([len(t) * 7.5 for t in title] + [len(d) * 6.5 for d in details])
    return max(140.0, width + 24), 20 + 17 * len(title) + 15 * len(details)


def _label_lines(label: str) -> list[str]:
    return textwrap.wrap(label, 30) or [label]


def _label_size(label: str) -> tuple[float, float]:
    lines = _label_lines(label)
    return max(len(line) for line in lines) * 6.5 + 12, 15 * len(lines) + 6


def _back_edges(definition: Definition, nodes: list[str], arrows: list[Link]) -> set[int]:
    """Indexes of arrows that point back (loops, "reopen"), by depth-first search from the
    start. A join stage is entered only after walking all its branches, so the edges into a
    join stay forward; an arrow is back when it points earlier in reverse postorder."""
    succ: dict[str, list[str]] = defaultdict(list)
    for link in arrows:
        succ[link.source].append(link.target)
    seen: set[str] = set()
    finished: list[str] = []

    def visit(node: str) -> None:
        seen.add(node)
        for nxt in succ[node]:
            stage = definition.stages.get(nxt)
            for branch in (stage.join if stage and nxt not in seen else ()):
                if branch not in seen and branch in definition.stages:
                    visit(branch)
            if nxt not in seen:
                visit(nxt)
        finished.append(node)

    for node in nodes:
        if node not in seen:
            visit(node)
    pos = {node: -k for k, node in enumerate(finished)}
    return {i for i, link in enumerate(arrows) if pos[link.target] <= pos[link.source]}


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _crossings(layers: list[list[str]], down: dict[str, list[str]]) -> int:
    pos = {n: i for layer in layers for i, n in enumerate(layer)}
    total = 0
    for layer in layers:
        ends = [(pos[a], pos[b]) for a in layer for b in down[a]]
        total += sum((a1 - a2) * (b1 - b2) < 0 for (a1, b1), (a2, b2) in combinations(ends, 2))
    return total


def _order(layers: list[list[str]], up: dict, down: dict) -> list[list[str]]:
    """Barycenter sweeps (down by predecessors, up by successors); keep the fewest crossings."""
    best, fewest = [list(layer) for layer in layers], _crossings(layers, down)
    for _ in range(3):
        for rows, nbrs in ((range(1, len(layers)), up), (range(len(layers) - 2, -1, -1), down)):
            for r in rows:
                pos = {n: i for layer in layers for i, n in enumerate(layer)}
                layers[r].sort(key=lambda n, p=pos, g=nbrs: _mean([p[m] for m in g[n]], p[n]))
            if (count := _crossings(layers, down)) < fewest:
                best, fewest = [list(layer) for layer in layers], count
    return best


def _place(desired: list[float], seps: list[float]) -> list[float]:
    """Positions closest to `desired` (least squares) that keep order and minimum separations:
    pool-adjacent-violators isotonic regression on positions shifted by the separations."""
    offsets = list(accumulate([0.0, *seps]))
    blocks: list[tuple[float, int]] = []
    for want, offset in zip(desired, offsets, strict=True):
        blocks.append((want - offset, 1))
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, c2), (m1, c1) = blocks.pop(), blocks.pop()
            blocks.append(((m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2))
    values = [mean for mean, count in blocks for _ in range(count)]
    return [v + o for v, o in zip(values, offsets, strict=True)]


def _ranks(nodes: list[str], oriented: list[tuple[int, tuple[str, str]]]) -> dict[str, int]:
    """Longest path from the sources, in steps of two: odd ranks are left for edge labels."""
    succ, indeg = defaultdict(list), dict.fromkeys(nodes, 0)
    for _, (u, v) in oriented:
        succ[u].append(v)
        indeg[v] += 1
    rank, ready = dict.fromkeys(nodes, 0), [n for n in nodes if indeg[n] == 0]
    while ready:
        u = ready.pop()
        for v in succ[u]:
            rank[v], indeg[v] = max(rank[v], rank[u] + 2), indeg[v] - 1
            if indeg[v] == 0:
                ready.append(v)
    return rank


def _x_centres(layers: list[list[str]], size: dict, extra: dict, up: dict, down: dict) -> dict:
    """Alternately pull each layer towards the nodes above and below it, never overlapping."""
    x: dict[str, float] = {}
    for layer in layers:
        x.update(zip(layer, accumulate(size[n][0] + extra[n] + GAP_X for n in layer),
                     strict=True))
    for sweep in range(7):
        nbrs, rows = (up, layers) if sweep % 2 == 0 else (down, layers[::-1])
        for layer in rows:
            desired = [_mean([x[m] for m in nbrs[n]], x[n]) for n in layer]
            seps = [size[a][0] / 2 + extra[a] + size[b][0] / 2
                    + (GAP_X if size[a][1] and size[b][1] else 12) for a, b in pairwise(layer)]
            x.update(zip(layer, _place(desired, seps), strict=True))
    return x


def layout(definition: Definition) -> Layout:
    """Boxes and edge paths for `to_svg`; exposed so tests can check the geometry."""
    names = {k: s.name for k, s in definition.stages.items()}
    arrows = links(definition)
    size: dict[str, tuple[float, float]] = {START_NODE: (16.0, 16.0)}
    for stage in definition.stages.values():
        size[stage.key] = _stage_size(*_stage_text(stage, names))
    if any(link.target == CLOSED_NODE for link in arrows):
        size[CLOSED_NODE] = (90.0, 34.0)
    back = _back_edges(definition, list(size), arrows)
    loops = [i for i, link in enumerate(arrows) if link.source == link.target]
    extra: dict[str, float] = defaultdict(float)  # room right of a box for its self-loops
    stacked: dict[str, float] = defaultdict(float)  # their labels, stacked top down
    loop_label: dict[int, tuple[float, float, float]] = {}  # offset from the box top, w, h
    for i in loops:
        node, label = arrows[i].source, arrows[i].label
        lw, lh = _label_size(label) if label else (0.0, 16.0)
        loop_label[i] = (stacked[node], lw, lh)
        stacked[node] += lh + 4
        extra[node] = max(extra[node], LOOP_REACH + lw)
    oriented = [(i, (a.target, a.source) if i in back else (a.source, a.target))
                for i, a in enumerate(arrows) if i not in loop_label]
    rank = _ranks(list(size), oriented)

    # Break edges into chains through every layer between their ends (dummy nodes, so no
    # edge crosses a box); an edge's label is the dummy in its middle odd layer.
    layers: list[list[str]] = [[] for _ in range(max(rank.values()) + 1)]
    for node in size:
        layers[rank[node]].append(node)
    chains: dict[int, list[str]] = {}
    label_at: dict[int, str] = {}
    up, down = defaultdict(list), defaultdict(list)
    for i, (u, v) in oriented:
        label = arrows[i].label if arrows[i].kind != "recurring" else None
        mid = (rank[u] + rank[v]) // 2
        mid -= 1 - mid % 2
        chains[i] = [u, *(f"~{i}~{r}" for r in range(rank[u] + 1, rank[v])), v]
        for dummy in chains[i][1:-1]:
            rank[dummy] = r = int(dummy.rsplit("~", 1)[1])
            size[dummy] = _label_size(label) if label and r == mid else (DUMMY_W, 0.0)
            layers[r].append(dummy)
        if label:
            label_at[i] = f"~{i}~{mid}"
        for a, b in pairwise(chains[i]):
            down[a].append(b)
            up[b].append(a)
    layers = _order(layers, up, down)
    x = _x_centres(layers, size, extra, up, down)
    shift = MARGIN - min(x[n] - size[n][0] / 2 for n in x)
    tops, heights, y = [], [], MARGIN
    for layer in layers:
        tops.append(y)
        heights.append(max((max(size[n][1], stacked[n]) for n in layer), default=0.0))
        y += heights[-1] + GAP_Y
    boxes: dict[str, Box] = {}
    for node, (w, h) in size.items():
        r = rank[node]
        kind = ("start" if node == START_NODE else "closed" if node == CLOSED_NODE
                else "stage" if node in definition.stages else "label" if h else "dummy")
        top = tops[r] + (heights[r] - h) / 2 if r % 2 else tops[r]  # labels centred
        boxes[node] = Box(node, kind, x[node] + shift - w / 2, top, w, h)

    # Ports spread along a box's bottom (leaving) and top (arriving), ordered by the far end.
    port: dict[tuple[int, int], float] = {}
    for end, near, far in ((0, 0, 1), (1, -1, -2)):
        ends: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for i, chain in chains.items():
            ends[chain[near]].append((boxes[chain[far]].cx, i))
        for node, mine in ends.items():
            box = boxes[node]
            for k, (_, i) in enumerate(sorted(mine)):
                port[i, end] = box.cx if node == START_NODE else (
                    box.x + box.w * (k + 1) / (len(mine) + 1))
    edges: list[Edge] = []
    for i, link in enumerate(arrows):
        if i in loop_label:
            b, (offset, lw, lh) = boxes[link.source], loop_label[i]
            cy, reach = min(b.y + offset + lh / 2, b.bottom - 10), b.right + LOOP_REACH
            pts = [(b.right, cy - 8), (reach, cy - 22), (reach, cy + 22), (b.right, cy + 8)]
            lbox = (Box(f"~{i}", "label", b.right + LOOP_REACH * 0.8, b.y + offset, lw, lh)
                    if link.label else None)
            edges.append(Edge(link.source, link.target, link.label, "loop", True, tuple(pts),
                              lbox))
            continue
        chain = chains[i]
        first, r0 = boxes[chain[0]], rank[chain[0]]
        pts = [(port[i, 0], first.bottom), (port[i, 0], tops[r0] + heights[r0])]
        for d in chain[1:-1]:
            pts += [(boxes[d].cx, tops[rank[d]]), (boxes[d].cx, tops[rank[d]] + heights[rank[d]])]
        pts.append((port[i, 1], boxes[chain[-1]].y))
        pts = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
        edges.append(Edge(link.source, link.target, link.label, link.kind, i in back,
                          tuple(pts[::-1] if i in back else pts), boxes.get(label_at.get(i, ""))))
    real = {k: b for k, b in boxes.items() if b.kind in ("start", "stage", "closed")}
    width = max([b.right + extra[k] for k, b in real.items()]
                + [e.label_box.right for e in edges if e.label_box]) + MARGIN
    return Layout(real, tuple(edges), width, y - GAP_Y + MARGIN)


# --- SVG -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(text: str) -> str:
    """Manager-written text as XML character data: escaped, XML-illegal characters dropped."""
    return escape(_CONTROL.sub("", text))


def _path(edge: Edge) -> str:
    (x0, y0), *rest = edge.points
    if edge.kind == "loop":
        return f"M{x0:.1f},{y0:.1f} C" + " ".join(f"{x:.1f},{y:.1f}" for x, y in rest)
    d = [f"M{x0:.1f},{y0:.1f}"]
    for (xa, ya), (xb, yb) in pairwise(edge.points):
        m = (ya + yb) / 2
        d.append(f"C{xa:.1f},{m:.1f} {xb:.1f},{m:.1f} {xb:.1f},{yb:.1f}")
    return " ".join(d)


def describe(definition: Definition) -> str:
    """Plain-English content of the diagram, for the SVG's <desc> (screen reader users)."""
    names = {k: s.name for k, s in definition.stages.items()}

    def listed(keys: tuple[str, ...], word: str = "and") -> str:
        items = [names.get(k, k) for k in keys]
        return ", ".join(items[:-1]) + f" {word} {items[-1]}" if len(items) > 1 else items[0]

    out = [f"Workflow of the case type {definition.name}, version {definition.version}."]
    if definition.start:
        out.append(f"A case starts at {listed(definition.start)}.")
    for s in definition.stages.values():
        bits = [f"Stage {s.name}: worked by {s.worked_by.describe()}"]
        if s.deadline:
            bits.append(f"deadline {s.deadline.describe()}")
        if s.join:
            bits.append(f"opens when {listed(s.join)} have all completed")
        if s.recurring:
            bits.append(f"recurs {describe_recurrence(s.recurring)} while the case is in "
                        + listed(s.recurring.while_in, "or"))
        for t in s.transitions:
            parallel = " in parallel" if len(t.to) > 1 else ""
            dest = "the case closes" if t.closes else f"goes to {listed(t.to)}{parallel}"
            cond = f"when {t.when}" if t.when else "otherwise" if t.otherwise else t.label
            bits.append(f"{cond}, {dest}" if cond else dest)
        out.append("; ".join(bits) + ".")
    return " ".join(out)


def to_svg(definition: Definition, *, highlight: frozenset[str] = frozenset()) -> str:
    """A standalone SVG document of the case type; `highlight` marks changed stages."""
    lay = layout(definition)
    names = {k: s.name for k, s in definition.stages.items()}
    w, h = f"{lay.width:.0f}", f"{lay.height:.0f}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-labelledby="title desc" '
        f'font-family="Arial, Helvetica, sans-serif">',
        f'<title id="title">{_esc(f"{definition.name} (version {definition.version})")}</title>',
        f'<desc id="desc">{_esc(describe(definition))}</desc>',
        "<defs>",
        *(f'<marker id="arrow-{n}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
          f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
          f'fill="{c}"/></marker>' for n, c in (("grey", GREY), ("blue", BLUE))),
        "</defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for key, box in lay.nodes.items():
        if box.kind == "start":
            out.append(f'<g id="start" class="start"><circle cx="{box.cx:.1f}" '
                       f'cy="{box.y + 8:.1f}" r="8" fill="{TEXT}"/></g>')
        elif box.kind == "closed":
            out.append(
                f'<g id="closed" class="closed"><rect x="{box.x:.1f}" y="{box.y:.1f}" '
                f'width="{box.w:.1f}" height="{box.h:.1f}" rx="{box.h / 2:.1f}" fill="{TEXT}"/>'
                f'<text x="{box.cx:.1f}" y="{box.y + 22:.1f}" text-anchor="middle" '
                f'font-size="13" font-weight="bold" fill="#ffffff">Closed</text></g>')
        else:
            out += _stage_svg(definition.stages[key], box, key in highlight, names)
    for edge in lay.edges:
        colour = BLUE if edge.back or edge.kind == "recurring" else GREY
        dash = ' stroke-dasharray="6 4"' if edge.kind == "recurring" else ""
        kind = f"edge {edge.kind}" + (" back" if edge.back else "")
        marker = "blue" if colour == BLUE else "grey"
        out.append(f'<path class="{kind}" d="{_path(edge)}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5"{dash} marker-end="url(#arrow-{marker})"/>')
    for edge in lay.edges:
        if (b := edge.label_box) is not None and edge.label:
            out.append(f'<g class="edge-label"><rect x="{b.x:.1f}" y="{b.y:.1f}" '
                       f'width="{b.w:.1f}" height="{b.h:.1f}" rx="3" fill="#ffffff" '
                       f'stroke="{BORDER}" stroke-width="0.5"/>')
            for n, line in enumerate(_label_lines(edge.label)):
                out.append(f'<text x="{b.x + 6:.1f}" y="{b.y + 15 + 15 * n:.1f}" '
                           f'font-size="12" fill="{TEXT}">{_esc(line)}</text>')
            out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _stage_svg(stage: Stage, box: Box, changed: bool, names: dict[str, str]) -> list[str]:
    classes = "stage" + (" recurring" if stage.recurring else "") + (" changed" if changed else "")
    stroke = (f'stroke="{ORANGE}" stroke-width="4"' if changed
              else f'stroke="{BLUE if stage.recurring else BORDER}" stroke-width="1.5"')
    dash = ' stroke-dasharray="6 4"' if stage.recurring else ""
    out = [f'<g id={quoteattr(_esc(f"stage-{stage.key}"))} class="{classes}">',
           f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
           f'rx="4" fill="{FILL}" {stroke}{dash}/>']
    title, details = _stage_text(stage, names)
    y = box.y + 6
    for n, line in enumerate([*title, *details]):
        bold = n < len(title)
        y += 17 if bold else 15 + 2 * (n == len(title))
        style = f'font-size="13" font-weight="bold" fill="{TEXT}"' if bold else (
            f'font-size="12" fill="{GREY}"')
        out.append(f'<text x="{box.x + 12:.1f}" y="{y:.1f}" {style}>{_esc(line)}</text>')
    out.append("</g>")
    return out
