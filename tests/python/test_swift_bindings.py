"""There is no Swift compiler on our machines, so the generated Swift bindings are checked with
the tree-sitter Swift grammar: they must parse without a single error node, and expose the API
the iOS app uses. (A type error would still pass here; see authenticator-ffi/README.md.)"""
from pathlib import Path

import tree_sitter_swift
from tree_sitter import Language, Parser

SWIFT = Path(__file__).resolve().parents[2] / "authenticator-ffi" / "bindings" / "swift"
# tree-sitter-swift does not know this underscored attribute uniffi emits; blank it, keeping
# every position.
ATTRIBUTE = "@_documentation(visibility: private)"


def errors(node, found):
    if node.type == "ERROR" or node.is_missing:
        found.append((node.start_point, node.type))
    for child in node.children:
        errors(child, found)
    return found


def test_generated_swift_parses_and_has_the_api():
    source = (SWIFT / "AssentCore.swift").read_text()
    parser = Parser(Language(tree_sitter_swift.language()))
    tree = parser.parse(source.replace(ATTRIBUTE, " " * len(ATTRIBUTE)).encode())
    assert errors(tree.root_node, []) == []
    for needle in ["open class Store", "public protocol VaultKeyProvider", "public protocol DeviceKeystore",
                   "public protocol Clock", "enum AssentError: Swift.Error", "public func codeForUri("]:
        assert needle in source, needle
    header = (SWIFT / "AssentCoreFFI.h").read_text()
    assert "uniffi_assent_core_fn_func_code_for_uri" in header


def test_the_checker_finds_a_broken_file():
    parser = Parser(Language(tree_sitter_swift.language()))
    tree = parser.parse(b"public func broken( { let x = }")
    assert errors(tree.root_node, []) != []
