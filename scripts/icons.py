#!/usr/bin/env python3
"""The bundled issuer icons: regenerated from the Simple Icons npm package, checked, and turned
into Android VectorDrawables. Only npm and the Python standard library are needed.

    scripts/icons.py update [--version V] [--package FILE.tgz]
        Fetches simple-icons@V with `npm pack` (or reads FILE.tgz), checks that the package and
        every chosen icon are CC0, and rewrites authenticator-core/icons/: svg/<slug>.svg for
        each issuer of issuers.txt, index.tsv (what the core compiles in) and README.md. Fails,
        changing nothing, if an issuer has no icon, an icon is not CC0 or two issuers share a
        name or a domain.
    scripts/icons.py check
        Checks the committed folder without the network: index and SVGs agree, and every SVG is
        the single-path 24x24 drawing the apps expect, with path data that parses.
    scripts/icons.py android OUT_DIR
        Writes OUT_DIR/brand_<slug>.xml, one VectorDrawable per bundled icon (for the Android
        app's res/drawable), and checks that each file parses back.
    scripts/icons.py ios OUT_DIR.xcassets
        Writes an asset catalog: brand_<slug>.imageset/ holding the SVG, kept as vectors and
        rendered as a template image (tinted by the app).

docs/icons.md explains the rules; issuers.txt explains its own format.
"""

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "16.37.0"
ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "authenticator-core" / "icons"

SVG_NS = "http://www.w3.org/2000/svg"
ANDROID_NS = "http://schemas.android.com/apk/res/android"
SLUG = re.compile(r"^[a-z0-9_]+$")
HEX = re.compile(r"^[0-9A-F]{6}$")
DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
CC0 = "CC0-1.0"


class Refused(Exception):
    """Why the folder cannot be regenerated; printed as one line."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=FOLDER, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    update = commands.add_parser("update", help="regenerate the folder from npm")
    update.add_argument("--version", default=VERSION, help=f"simple-icons version ({VERSION})")
    update.add_argument("--package", type=Path, help="a simple-icons .tgz instead of npm pack")
    commands.add_parser("check", help="check the committed folder (no network)")
    android = commands.add_parser("android", help="write VectorDrawables")
    android.add_argument("out_dir", type=Path)
    ios = commands.add_parser("ios", help="write an asset catalog")
    ios.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    try:
        folder = Folder(args.folder)
        if args.command == "update":
            count = update_folder(folder, args.version, args.package)
            print(f"{count} icons from simple-icons {args.version} in {folder.root}")
        elif args.command == "check":
            count = check_folder(folder)
            print(f"{count} icons checked")
        elif args.command == "android":
            count = write_android(folder, args.out_dir)
            print(f"{count} VectorDrawables in {args.out_dir}")
        else:
            count = write_ios(folder, args.out_dir)
            print(f"{count} image sets in {args.out_dir}")
    except Refused as refusal:
        print(f"icons.py: {refusal}", file=sys.stderr)
        sys.exit(1)


class Folder:
    """The icons folder's files (a test points this at a copy)."""

    def __init__(self, root):
        self.root = Path(root)
        self.issuers = self.root / "issuers.txt"
        self.index = self.root / "index.tsv"
        self.svg = self.root / "svg"
        self.readme = self.root / "README.md"


# --- update -----------------------------------------------------------------------------------


def update_folder(folder, version, package):
    issuers = read_issuers(folder.issuers)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if package is None:
            package = npm_pack(version, scratch)
        digest = hashlib.sha512(package.read_bytes()).digest()
        integrity = "sha512-" + base64.b64encode(digest).decode()
        with tarfile.open(package) as tar:
            meta = json.loads(member(tar, "package/package.json"))
            licence_text = member(tar, "package/LICENSE.md").decode()
            if meta.get("name") != "simple-icons" or meta.get("version") != version:
                raise Refused(f"{package} is {meta.get('name')}@{meta.get('version')}, "
                              f"not simple-icons@{version}")
            if meta.get("license") != CC0 or "CC0 1.0 Universal" not in licence_text:
                raise Refused(f"simple-icons {version} is not CC0 (package.json says "
                              f"{meta.get('license')!r}); the icons cannot be bundled")
            data = json.loads(member(tar, "package/data/simple-icons.json"))
            icons = {icon["slug"]: icon for icon in data}
            entries = [entry_for(issuer, icons, version) for issuer in issuers]
            check_unambiguous(entries)
            svgs = {e["slug"]: member(tar, f"package/icons/{e['slug']}.svg") for e in entries}
        for slug, svg in svgs.items():
            explicit_path(svg_path(svg.decode(), slug)[0], slug)

        # Everything is checked: only now is the folder replaced.
        staged = scratch / "svg"
        staged.mkdir()
        for slug, svg in svgs.items():
            (staged / f"{slug}.svg").write_bytes(svg)
        if folder.svg.exists():
            shutil.rmtree(folder.svg)
        shutil.copytree(staged, folder.svg)
    folder.index.write_text(index_text(entries, version))
    folder.readme.write_text(readme_text(version, integrity, len(entries)))
    return len(entries)


def npm_pack(version, into):
    """`npm pack` of the release (npm checks the registry's integrity hash; the README records
    it, as `sha512-` and the tarball's base64 SHA-512, the form npm prints)."""
    try:
        out = subprocess.run(
            ["npm", "pack", f"simple-icons@{version}", "--json", "--pack-destination", str(into)],
            check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise Refused("npm is not installed") from None
    except subprocess.CalledProcessError as failure:
        raise Refused(f"npm pack simple-icons@{version} failed: "
                      f"{failure.stderr.strip().splitlines()[-1:]}") from None
    return into / json.loads(out)[0]["filename"]


def member(tar, name):
    try:
        return tar.extractfile(name).read()
    except (KeyError, AttributeError):
        raise Refused(f"the package has no {name}") from None


def read_issuers(path):
    """issuers.txt as a list of {slug, names, domains, exact, line}."""
    issuers = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = [column.strip() for column in line.split("|")]
        if len(columns) > 4:
            raise Refused(f"issuers.txt:{number}: more than four columns")
        columns += [""] * (4 - len(columns))
        slug, names, domains, flags = columns
        if not SLUG.match(slug):
            raise Refused(f"issuers.txt:{number}: {slug!r} is not a Simple Icons slug")
        domains = split_list(domains)
        for domain in domains:
            if not DOMAIN.match(domain):
                raise Refused(f"issuers.txt:{number}: {domain!r} is not a domain name")
        if flags not in ("", "exact"):
            raise Refused(f"issuers.txt:{number}: unknown flag {flags!r} (only `exact`)")
        issuers.append({"slug": slug, "names": split_list(names), "domains": domains,
                        "exact": flags == "exact", "line": number})
    return issuers


def split_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def entry_for(issuer, icons, version):
    """One line of the index: the icon's data, its names (title, the package's aliases, ours)
    and domains. Refuses an issuer with no icon, or an icon under another licence."""
    slug, where = issuer["slug"], f"issuers.txt:{issuer['line']}"
    icon = icons.get(slug)
    if icon is None:
        raise Refused(f"{where}: simple-icons {version} has no icon {slug!r}")
    licence = icon.get("license", {}).get("type", CC0)
    if licence != CC0:
        raise Refused(f"{where}: the {icon['title']} icon is under {licence}, not CC0")
    if not HEX.match(icon["hex"]):
        raise Refused(f"{where}: {slug}'s colour {icon['hex']!r} is not RRGGBB")
    aliases = icon.get("aliases", {})
    theirs = [icon["title"], *aliases.get("aka", []), *aliases.get("old", []),
              *aliases.get("loc", {}).values()]
    names = []
    for name in [*theirs, *issuer["names"]]:
        exact = issuer["exact"] or name.startswith("=")
        name = name.removeprefix("=").strip()
        if any(c in name for c in "\t;="):
            raise Refused(f"{where}: the name {name!r} holds a tab, ';' or '='")
        key = compact(name)
        if not key:
            continue
        known = next((n for n in names if n["key"] == key), None)
        if known is None:
            names.append({"name": name, "key": key, "exact": exact})
        else:
            known["exact"] = known["exact"] or exact
    return {"slug": slug, "title": icon["title"], "hex": icon["hex"], "names": names,
            "domains": issuer["domains"]}


def compact(name):
    """The core's matching key, near enough to find clashes: letters and digits, lower case,
    accents dropped (the Rust test of the index is the exact check)."""
    folded = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    return "".join(c for c in folded.lower() if c.isalnum() and not unicodedata.combining(c))


def check_unambiguous(entries):
    seen_slugs, seen_names, seen_domains = set(), {}, {}
    for entry in entries:
        if entry["slug"] in seen_slugs:
            raise Refused(f"{entry['slug']} is listed twice")
        seen_slugs.add(entry["slug"])
        for name in entry["names"]:
            other = seen_names.setdefault(name["key"], entry["slug"])
            if other != entry["slug"]:
                raise Refused(f"the name {name['name']!r} belongs to both {other} and "
                              f"{entry['slug']}: keep it on one")
        for domain in entry["domains"]:
            other = seen_domains.setdefault(domain, entry["slug"])
            if other != entry["slug"]:
                raise Refused(f"the domain {domain} belongs to both {other} and {entry['slug']}")


def index_text(entries, version):
    lines = [
        f"# Generated by scripts/icons.py from simple-icons {version} (CC0-1.0): do not edit;",
        "# change issuers.txt and run `scripts/icons.py update`.",
        "# slug<TAB>title<TAB>colour<TAB>names (';', '=' before a name matched only whole)"
        "<TAB>domains (';')",
    ]
    for entry in sorted(entries, key=lambda e: e["slug"]):
        names = ";".join(("=" if n["exact"] else "") + n["name"] for n in entry["names"])
        lines.append("\t".join([entry["slug"], entry["title"], entry["hex"], names,
                                ";".join(entry["domains"])]))
    return "\n".join(lines) + "\n"


def readme_text(version, integrity, count):
    return f"""# Issuer icons

Generated by `scripts/icons.py update` from the npm package **simple-icons {version}**
(`npm pack simple-icons@{version}`): {count} icons, one for each issuer in `issuers.txt`. Do not
edit `svg/` or `index.tsv` by hand. The package's integrity (npm's form):

    {integrity}

- `issuers.txt`: the chosen issuers, with extra names and domains (the script's input).
- `svg/<slug>.svg`: the icons, exactly as Simple Icons ships them: one path on a 24x24 view box,
  no colour (the brand colour is in the index).
- `index.tsv`: slug, title, brand colour, names and domains; compiled into the core
  (`authenticator_core::icons`) with `include_str!`.

## Licence

Simple Icons is released under CC0 1.0 (the package's `LICENSE.md`; `package.json` says
`CC0-1.0`). Some of its icons carry their own licence in the package data; the script refuses any
icon whose licence is not CC0-1.0, so every file here is CC0.

CC0 waives copyright, not trademark rights: CC0 itself says that "no trademark or patent rights
held by Affirmer are waived", and Simple Icons' `DISCLAIMER.md` asks its users to follow each
brand's guidelines and to seek permission where they need it. These logos are their owners'
trademarks. Assent shows one only to tell which service an account belongs to, never as its own
branding or as a sign of endorsement; a brand that objects is removed from `issuers.txt`, and its
accounts get a letter avatar. See docs/icons.md.
"""


# --- check and android ------------------------------------------------------------------------


def read_index(folder):
    entries = []
    for line in folder.index.read_text().splitlines():
        if line.startswith("#") or not line:
            continue
        slug, title, colour, _names, _domains = line.split("\t")
        entries.append({"slug": slug, "title": title, "hex": colour})
    return entries


def check_folder(folder):
    entries = read_index(folder)
    slugs = {e["slug"] for e in entries}
    files = {p.stem for p in folder.svg.glob("*.svg")}
    if slugs != files:
        raise Refused(f"index and svg/ disagree: no SVG for {sorted(slugs - files)}, "
                      f"no index line for {sorted(files - slugs)}")
    listed = {issuer["slug"] for issuer in read_issuers(folder.issuers)}
    if listed != slugs:
        raise Refused(f"issuers.txt and the index disagree on {sorted(listed ^ slugs)}: "
                      "run `scripts/icons.py update`")
    for entry in entries:
        data, _ = svg_path((folder.svg / f"{entry['slug']}.svg").read_text(), entry["slug"])
        explicit_path(data, entry["slug"])
    return len(entries)


def svg_path(svg, slug):
    """The path data of a Simple Icons SVG, refusing anything but one path on 0 0 24 24 (what
    the apps' conversions assume)."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as error:
        raise Refused(f"{slug}.svg is not XML: {error}") from None
    if root.tag != f"{{{SVG_NS}}}svg" or root.get("viewBox") != "0 0 24 24":
        raise Refused(f"{slug}.svg is not an SVG on a 0 0 24 24 view box")
    paths = root.findall(f"{{{SVG_NS}}}path")
    drawn = [child for child in root if child.tag != f"{{{SVG_NS}}}title"]
    if len(paths) != 1 or len(drawn) != 1 or not paths[0].get("d"):
        raise Refused(f"{slug}.svg is not a single path")
    return paths[0].get("d"), paths[0].get("fill-rule")


def write_android(folder, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = read_index(folder)
    for entry in entries:
        svg = (folder.svg / f"{entry['slug']}.svg").read_text()
        data, fill_rule = svg_path(svg, entry["slug"])
        data = explicit_path(data, entry["slug"])
        target = out_dir / f"brand_{entry['slug']}.xml"
        target.write_text(vector_drawable(entry, data, fill_rule))
        check_vector_drawable(target, data)
    return len(entries)


ARITY = {"m": 2, "l": 2, "t": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "a": 7, "z": 0}
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def explicit_path(data, slug):
    """The same path with nothing left implicit, so that any VectorDrawable parser reads it as a
    browser does: every command letter repeated before each of its argument groups (a moveto's
    extra pairs become linetos), arc flags split apart ("a1 1 0 011 1" packs two), numbers
    separated and given their leading zero (".5.5" is two numbers). Refuses path data that does
    not parse."""
    tokens, at, command, count = [], 0, None, 0

    def close_command():
        if command is not None and (count % max(ARITY[command.lower()], 1) or
                                    (count == 0) != (command in "zZ")):
            raise Refused(f"{slug}.svg: {command} has {count} numbers")

    while at < len(data):
        char = data[at]
        if char in " ,\t\r\n":
            at += 1
        elif char.lower() in ARITY:
            close_command()
            command, count, at = char, 0, at + 1
            if command in "zZ":
                tokens.append(command)
        elif command is None or command in "zZ":
            raise Refused(f"{slug}.svg: a number outside a command at {at}")
        else:
            arity = ARITY[command.lower()]
            if count % arity == 0:
                letter = command
                if count and command in "mM":
                    letter = "l" if command == "m" else "L"
                tokens.append(letter)
            if command in "aA" and count % arity in (3, 4):
                if char not in "01":
                    raise Refused(f"{slug}.svg: arc flag {char!r} at {at}")
                tokens.append(char)
                at += 1
            else:
                match = NUMBER.match(data, at)
                if match is None:
                    raise Refused(f"{slug}.svg: cannot read the path at {at}: {data[at:at + 8]!r}")
                number = match.group()
                tokens.append(re.sub(r"^([+-]?)\.", r"\g<1>0.", number))
                at = match.end()
            count += 1
    close_command()
    return " ".join(tokens)


def vector_drawable(entry, data, fill_rule):
    """A 24dp VectorDrawable filled with the brand colour (a tint replaces it)."""
    title = entry["title"].replace("--", "- -")
    fill_type = '\n        android:fillType="evenOdd"' if fill_rule == "evenodd" else ""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- {title}: simple-icons (CC0-1.0), generated by scripts/icons.py; do not edit. -->
<vector xmlns:android="{ANDROID_NS}"
    android:width="24dp"
    android:height="24dp"
    android:viewportWidth="24"
    android:viewportHeight="24">
    <path
        android:fillColor="#FF{entry['hex']}"{fill_type}
        android:pathData="{xml_attribute(data)}" />
</vector>
"""


def xml_attribute(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def check_vector_drawable(path, data):
    """Parses the file back: well-formed, a <vector> with one path holding the same data."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise Refused(f"{path} is not well-formed XML: {error}") from None
    attr = lambda name: f"{{{ANDROID_NS}}}{name}"  # noqa: E731
    paths = root.findall("path")
    if (root.tag != "vector" or root.get(attr("viewportWidth")) != "24" or len(paths) != 1
            or paths[0].get(attr("pathData")) != data):
        raise Refused(f"{path} is not the expected VectorDrawable")


def write_ios(folder, catalog):
    """An asset catalog of the SVGs: one image set per icon, named `brand_<slug>`, with
    "Preserve Vector Data" and the template rendering intent (Xcode's Contents.json keys)."""
    catalog.mkdir(parents=True, exist_ok=True)
    xcode = {"author": "xcode", "version": 1}
    (catalog / "Contents.json").write_text(json.dumps({"info": xcode}, indent=2) + "\n")
    entries = read_index(folder)
    for entry in entries:
        slug = entry["slug"]
        svg_path((folder.svg / f"{slug}.svg").read_text(), slug)
        image_set = catalog / f"brand_{slug}.imageset"
        if image_set.exists():
            shutil.rmtree(image_set)
        image_set.mkdir()
        shutil.copyfile(folder.svg / f"{slug}.svg", image_set / f"{slug}.svg")
        contents = {
            "images": [{"filename": f"{slug}.svg", "idiom": "universal"}],
            "info": xcode,
            "properties": {"preserves-vector-representation": True,
                           "template-rendering-intent": "template"},
        }
        (image_set / "Contents.json").write_text(json.dumps(contents, indent=2) + "\n")
    return len(entries)


if __name__ == "__main__":
    main()
