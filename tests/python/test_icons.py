"""scripts/icons.py: the committed icon folder checks out, the Android VectorDrawables and the
iOS asset catalog it emits are well-formed (and the iOS app's build takes that catalog), and
`update` refuses what must not be bundled. No network: `update` reads a small simple-icons
package built here."""

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "icons.py"
sys.path.insert(0, str(SCRIPT.parent))
import icons  # noqa: E402

FOLDER = ROOT / "authenticator-core" / "icons"
ANDROID = "{http://schemas.android.com/apk/res/android}"
SVG = ('<svg role="img" viewBox="0 0 24 24" xmlns="http://www.w3.org/2000/svg">'
       '<title>{title}</title><path d="M12 0L24 24H0z"/></svg>')


def run(*args, folder=None):
    command = [sys.executable, str(SCRIPT)]
    if folder is not None:
        command += ["--folder", str(folder)]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True)


def test_the_committed_folder_is_consistent():
    result = run("check")
    assert result.returncode == 0, result.stderr
    count = int(result.stdout.split()[0])
    assert count >= 300
    assert len(list((FOLDER / "svg").glob("*.svg"))) == count


def test_every_vector_drawable_is_well_formed(tmp_path):
    result = run("android", tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("brand_*.xml"))
    index = [line.split("\t") for line in (FOLDER / "index.tsv").read_text().splitlines()
             if not line.startswith("#")]
    assert [f.name for f in files] == sorted(f"brand_{row[0]}.xml" for row in index)
    colours = {row[0]: row[2] for row in index}
    for file in files:
        root = ET.parse(file).getroot()  # raises on anything not well-formed
        slug = file.stem.removeprefix("brand_")
        assert root.tag == "vector", file
        assert root.get(f"{ANDROID}viewportWidth") == "24", file
        assert root.get(f"{ANDROID}width") == "24dp", file
        [path] = root.findall("path")
        assert path.get(f"{ANDROID}fillColor") == f"#FF{colours[slug]}", file
        assert_explicit(path.get(f"{ANDROID}pathData", ""), file)
        # An Android resource name: lower-case letters, digits and underscores.
        assert file.stem.replace("_", "").isalnum() and file.stem.islower(), file


def package(tmp_path, icons, licence="CC0-1.0", version="1.0.0"):
    """A simple-icons .tgz holding `icons`: {slug: extra data}."""
    data = [{"title": slug.title(), "slug": slug, "hex": "123ABC", "source": "x", **extra}
            for slug, extra in icons.items()]
    files = {
        "package/package.json": json.dumps({"name": "simple-icons", "version": version,
                                            "license": licence}),
        "package/LICENSE.md": "# CC0 1.0 Universal\n" if licence == "CC0-1.0" else "# MIT\n",
        "package/data/simple-icons.json": json.dumps(data),
        **{f"package/icons/{slug}.svg": SVG.format(title=slug) for slug in icons},
    }
    path = tmp_path / "simple-icons.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def folder_with(tmp_path, issuers):
    folder = tmp_path / "icons"
    folder.mkdir()
    (folder / "issuers.txt").write_text("# test\n" + issuers)
    return folder


def test_update_writes_the_folder_from_the_package(tmp_path):
    tgz = package(tmp_path, {"alpha": {"aliases": {"aka": ["Alfa"]}}, "beta": {}})
    folder = folder_with(tmp_path, "beta | | beta.com | exact\nalpha | Alpha One | alpha.com\n")
    result = run("update", "--version", "1.0.0", "--package", tgz, folder=folder)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (folder / "svg").iterdir()) == ["alpha.svg", "beta.svg"]
    lines = [l for l in (folder / "index.tsv").read_text().splitlines() if not l.startswith("#")]
    assert lines == ["alpha\tAlpha\t123ABC\tAlpha;Alfa;Alpha One\talpha.com",
                     "beta\tBeta\t123ABC\t=Beta\tbeta.com"]
    assert "simple-icons 1.0.0" in (folder / "README.md").read_text()
    assert run("check", folder=folder).returncode == 0


@pytest.mark.parametrize("issuers, icons, licence, refusal", [
    ("gamma | | |\n", {"alpha": {}}, "CC0-1.0", "has no icon 'gamma'"),
    ("alpha | | |\n", {"alpha": {"license": {"type": "CC-BY-4.0"}}}, "CC0-1.0",
     "under CC-BY-4.0, not CC0"),
    ("alpha | | |\n", {"alpha": {}}, "MIT", "is not CC0"),
    ("alpha | Shared | |\nbeta | shared! | |\n", {"alpha": {}, "beta": {}}, "CC0-1.0",
     "belongs to both alpha and beta"),
    ("alpha | | a.com |\nbeta | | a.com |\n", {"alpha": {}, "beta": {}}, "CC0-1.0",
     "the domain a.com belongs to both"),
    ("alpha | | not a domain |\n", {"alpha": {}}, "CC0-1.0", "is not a domain name"),
])
def test_update_refuses_and_changes_nothing(tmp_path, issuers, icons, licence, refusal):
    tgz = package(tmp_path, icons, licence=licence)
    folder = folder_with(tmp_path, issuers)
    result = run("update", "--version", "1.0.0", "--package", tgz, folder=folder)
    assert result.returncode == 1
    assert refusal in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, "one line"
    assert sorted(p.name for p in folder.iterdir()) == ["issuers.txt"]


def test_check_finds_a_missing_svg(tmp_path):
    folder = tmp_path / "icons"
    shutil.copytree(FOLDER, folder)
    (folder / "svg" / "github.svg").unlink()
    result = run("check", folder=folder)
    assert result.returncode == 1
    assert "no SVG for ['github']" in result.stderr


def test_the_ios_asset_catalog_names_each_icon_as_the_core_does(tmp_path):
    catalog = tmp_path / "BrandIcons.xcassets"
    result = run("ios", catalog)
    assert result.returncode == 0, result.stderr
    assert json.loads((catalog / "Contents.json").read_text())["info"]["version"] == 1
    sets = sorted(catalog.glob("*.imageset"))
    assert len(sets) == len(list((FOLDER / "svg").glob("*.svg")))
    slugs = [line.split("\t")[0] for line in (FOLDER / "index.tsv").read_text().splitlines()
             if not line.startswith("#")]
    # `Brand::asset_name`, which the app passes to `Image(_:)`.
    assert [s.name for s in sets] == sorted(f"brand_{slug}.imageset" for slug in slugs)
    for image_set in sets:
        slug = image_set.name.removeprefix("brand_").removesuffix(".imageset")
        assert {p.name for p in image_set.iterdir()} == {"Contents.json", f"{slug}.svg"}
        contents = json.loads((image_set / "Contents.json").read_text())
        assert contents["images"] == [{"filename": f"{slug}.svg", "idiom": "universal"}]
        assert contents["properties"]["preserves-vector-representation"] is True
        assert contents["properties"]["template-rendering-intent"] == "template"
        original = (FOLDER / "svg" / f"{slug}.svg").read_bytes()
        assert (image_set / f"{slug}.svg").read_bytes() == original


def test_the_ios_app_takes_the_catalog_build_ios_writes():
    """scripts/build-ios.sh writes the catalog where project.yml takes it as a resource of the
    app target, and git ignores it (544 generated image sets stay out of the repository). What
    Xcode's actool makes of it is checked only on a Mac."""
    catalog = "ios-app/Assent/Brands.xcassets"
    build = (ROOT / "scripts" / "build-ios.sh").read_text()
    assert f"rm -rf {catalog}\n" in build
    assert f"scripts/icons.py ios {catalog}\n" in build
    project = (ROOT / "ios-app" / "project.yml").read_text()
    app = project[project.index("\n  Assent:\n"):project.index("\n  NotificationService:\n")]
    assert re.search(r"- path: Assent/Brands\.xcassets\n\s+buildPhase: resources\n", app), app
    assert re.search(r"- path: Assent\n\s+excludes:\n\s+- Brands\.xcassets\n", app), "listed once"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert f"/{catalog}" in ignored


def assert_explicit(data, where):
    """Every command letter followed by exactly its own count of numbers."""
    tokens = data.split()
    assert tokens and tokens[0] in "Mm", where
    at = 0
    while at < len(tokens):
        command = tokens[at]
        arity = icons.ARITY[command.lower()]
        numbers = tokens[at + 1:at + 1 + arity]
        assert len(numbers) == arity, (where, at)
        for number in numbers:
            float(number)
            assert not number.lstrip("+-").startswith("."), (where, number)
        at += 1 + arity


@pytest.mark.parametrize("packed, explicit", [
    ("M1.5.5a1 1 0 011 1", "M 1.5 0.5 a 1 1 0 0 1 1 1"),
    ("M0 0 1 1 2 2Z", "M 0 0 L 1 1 L 2 2 Z"),
    ("m0 0 1 1zm-.5-1e1h1 2", "m 0 0 l 1 1 z m -0.5 -1e1 h 1 h 2"),
    ("M12 .297c-6.63 0-12 5.373-12 12 0 5.303 3.438 9.8 8.205 11.385",
     "M 12 0.297 c -6.63 0 -12 5.373 -12 12 c 0 5.303 3.438 9.8 8.205 11.385"),
])
def test_path_data_is_made_explicit(packed, explicit):
    assert icons.explicit_path(packed, "t") == explicit
    assert icons.explicit_path(explicit, "t") == explicit


@pytest.mark.parametrize("bad", ["M1", "1 2", "A1 1 0 2 1 1 1", "Z1", "M1 2x"])
def test_path_data_that_does_not_parse_is_refused(bad):
    with pytest.raises(icons.Refused):
        icons.explicit_path(bad, "t")
