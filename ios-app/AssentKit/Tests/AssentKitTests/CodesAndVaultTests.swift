// Codes, the vault and imports through the generated bindings, with a Swift key provider and a
// Swift clock, as the iOS app uses them.
import AssentKit
import Foundation
import XCTest

final class CodeTests: XCTestCase {
    func testCodeForUriGivesTheRfcVector() throws {
        XCTAssertEqual(try codeForUri(uri: rfcSha1, unixSeconds: 59), "94287082")
        XCTAssertEqual(try codeForUri(uri: rfcSha1, unixSeconds: 1_111_111_109), "07081804")
    }

    func testAccountsComputeCodesAtTheSwiftClocksTime() throws {
        let path = try Paths.tempVault()
        let store = try Store.open(path: path, key: Keychain(Data(count: 32)), keystore: nil,
                                   clock: FixedClock(59))
        _ = try store.addUri(uri: rfcSha1)
        let account = try XCTUnwrap(try store.accounts().first)
        XCTAssertEqual(account.code, "94287082")
        XCTAssertEqual(account.remainingSeconds, 1)
        XCTAssertEqual(account.kind, "totp")
        XCTAssertEqual(account.algorithm, "SHA1")
        XCTAssertEqual(account.digits, 8)
        XCTAssertEqual(account.period, 30)

        let later = try Store.open(path: path, key: Keychain(Data(count: 32)), keystore: nil,
                                   clock: FixedClock(1_111_111_109))
        XCTAssertEqual(try later.accounts().map(\.code), ["07081804"])
        XCTAssertEqual(try later.accounts().map(\.remainingSeconds), [1])
    }

    func testHotpCodesAdvanceTheCounter() throws {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: FixedClock(0))
        // RFC 4226's test secret: codes 755224, 287082, ...
        let id = try store.addUri(
            uri: "otpauth://hotp/Bank:carol?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=0")
        let account = try XCTUnwrap(try store.accounts().first)
        XCTAssertEqual(account.kind, "hotp")
        XCTAssertNil(account.remainingSeconds)
        XCTAssertEqual(account.code, "755224")
        XCTAssertEqual(try store.useHotpCode(id: id), "755224")
        XCTAssertEqual(try store.accounts().first?.counter, 1)
        XCTAssertEqual(try store.accounts().first?.code, "287082")
    }
}

final class VaultTests: XCTestCase {
    func testRoundTripWithASwiftKeyProvider() throws {
        let path = try Paths.tempVault()
        let key = Data((0..<32).map { UInt8($0) })
        let clock = FixedClock(59)
        var store: Store? = try Store.open(path: path, key: Keychain(key), keystore: nil, clock: clock)
        let id = try store!.addUri(uri: rfcSha1)
        let other = try store!.addUri(uri: "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
        try store!.rename(id: id, issuer: "RFC 6238", name: nil)
        try store!.moveTo(id: other, position: 0)
        XCTAssertEqual(try store!.search(query: "git").map(\.id), [other])
        store = nil  // closes the vault, as the app does on going to the background

        let again = try Store.open(path: path, key: Keychain(key), keystore: nil, clock: clock)
        let accounts = try again.accounts()
        XCTAssertEqual(accounts.map(\.issuer), ["GitHub", "RFC 6238"])
        XCTAssertEqual(accounts.map(\.name), ["alice", "sha1"])
        XCTAssertEqual(accounts[1].code, "94287082")
        XCTAssertTrue(try again.exportUris().contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))
        try again.delete(id: other, retirePush: false)
        XCTAssertEqual(try again.accounts().map(\.id), [id])

        let file = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertFalse(file.contains("GEZDGNBV"), "the secret is stored in clear")
        XCTAssertFalse(file.contains("RFC 6238"), "the account names are stored in clear")

        let wrong = assentError {
            try Store.open(path: path, key: Keychain(Data(count: 32)), keystore: nil, clock: clock)
        }
        guard case .WrongPassword(let message)? = wrong else {
            return XCTFail("a wrong vault key gave \(String(describing: wrong))")
        }
        XCTAssertTrue(message.contains("Wrong passphrase or key"), message)
        assertReadable(message)
    }
}

final class ImportTests: XCTestCase {
    /// The golden Google Authenticator export, checked against its expected accounts.
    func testGoogleAuthenticatorExport() throws {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        let fixture = try Paths.fixture("google_migration.txt")
        let expected = try JSONSerialization.jsonObject(
            with: try Paths.fixture("google_migration.txt.expected.json")) as? [String: Any]
        let accounts = try XCTUnwrap(expected?["accounts"] as? [[String: Any]])

        let report = try store.importData(data: fixture, password: nil)
        XCTAssertEqual(Int(report.added), accounts.count)
        XCTAssertEqual(report.missingParts, [])
        // The export's MD5 account, which no code generator supports, is skipped with a reason.
        XCTAssertEqual(report.skipped.count, expected?["skipped"] as? Int)
        XCTAssertTrue(report.skipped.allSatisfy { $0.contains("not supported") }, "\(report.skipped)")
        let imported = try store.accounts()
        XCTAssertEqual(imported.map(\.issuer), accounts.map { $0["issuer"] as? String })
        XCTAssertEqual(imported.map(\.name), accounts.map { $0["name"] as? String })
        XCTAssertEqual(imported.map(\.kind), accounts.map { $0["type"] as? String })
        XCTAssertEqual(imported.map(\.algorithm), accounts.map { $0["algorithm"] as? String })
        XCTAssertEqual(imported.map { Int($0.digits) }, accounts.map { $0["digits"] as? Int })

        let again = try store.importData(data: fixture, password: nil)
        XCTAssertEqual(again.added, 0)
        XCTAssertEqual(again.duplicates.count, accounts.count)
    }

    func testEncryptedAegisExportAsksForItsPassword() throws {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        let encrypted = try Paths.fixture("aegis_encrypted.json")
        guard case .PasswordRequired(let asked)? = assentError({
            try store.importData(data: encrypted, password: nil)
        }) else { return XCTFail("no PasswordRequired") }
        XCTAssertTrue(asked.contains("password"), asked)
        guard case .WrongPassword? = assentError({
            try store.importData(data: encrypted, password: "nope")
        }) else { return XCTFail("no WrongPassword") }
        XCTAssertGreaterThan(try store.importData(data: encrypted, password: "test").added, 0)
    }
}
