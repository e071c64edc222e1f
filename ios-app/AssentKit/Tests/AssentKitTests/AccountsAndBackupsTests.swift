// The calls the apps' account list, settings and notification extension use: icons, the one
// account for push and codes, automatic backups, and the extension's read-only open.
import AssentKit
import Foundation
import XCTest

/// What the list shows for a purpose: a `switch` the compiler holds exhaustive.
func title(_ purpose: Purpose) -> String {
    switch purpose {
    case .login: return "Sign in?"
    case .stepUp: return "Confirm it's you"
    case .passwordReset: return "Reset your password?"
    case .activate: return "Activating"
    }
}

final class AccountsAndBackupsTests: XCTestCase {
    func testAccountsCarryTheirIcon() throws {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        _ = try store.addUri(uri: "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
        _ = try store.addUri(uri: "otpauth://totp/Zorblax%20Intranet:bob?secret=KRSXG5CTMVRXEZLU")
        let accounts = try store.accounts()
        guard case .brand(let slug, _, let asset, let color) = accounts[0].icon else {
            return XCTFail("GitHub has no brand icon: \(accounts[0].icon)")
        }
        XCTAssertEqual([slug, asset, accounts[0].iconKey], ["github", "brand_github", "brand:github"])
        XCTAssertEqual(color.count, 7)
        guard case .letter(let letter, _) = accounts[1].icon else {
            return XCTFail("an unknown issuer got a brand: \(accounts[1].icon)")
        }
        XCTAssertEqual(letter, "Z")
        XCTAssertNil(accounts[0].pushDeviceId)
    }

    func testAutomaticBackupsWriteVersionsThatTheImportRestores() throws {
        let folder = try Paths.tempDirectory()
        let clock = FixedClock(1_800_000_000)
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: clock)
        XCTAssertNil(try store.backupStatus())
        _ = try store.addUri(uri: rfcSha1)
        let on = try store.enableAutoBackup(folder: folder.path, keep: 5, passphrase: "backup pass")
        XCTAssertFalse(on.pending)
        clock.now += 60
        _ = try store.addUri(uri: "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP")
        // Within the debounce a change waits for the flush the app does when backgrounded.
        clock.now += 1
        try store.rename(id: try store.accounts()[1].id, issuer: "GitHub, Inc.", name: nil)
        XCTAssertEqual(try store.backupStatus()?.pending, true)
        XCTAssertEqual(try store.flushBackup()?.pending, false)
        let versions = try backupVersions(folder: folder.path)
        XCTAssertEqual(versions.count, 3)
        XCTAssertEqual(try store.backupStatus()?.lastSuccessFile, versions[0].path)
        let restored = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                      keystore: nil, clock: nil)
        let report = try restored.importData(data: try Data(contentsOf: URL(fileURLWithPath: versions[2].path)),
                                             password: "backup pass")
        XCTAssertEqual(report.added, 1, "the oldest version holds one account")
        try store.disableAutoBackup()
        XCTAssertNil(try store.backupStatus())
    }

    func testTheExtensionPeeksWithoutWritingAndTheAppAnswers() throws {
        let portal = try Portal()
        defer { portal.close() }
        let path = try Paths.tempVault()
        let store = try Store.open(path: path, key: Keychain(Data(count: 32)), keystore: nil, clock: nil)
        let qr = try portal.string(try portal.call(["cmd": "qr"]), "qr")
        let enrollment = try store.enroll(qr: qr, platform: .ios, deviceName: "iPhone",
                                          push: .apns(token: "a1", sandbox: true, topic: nil),
                                          hardwareKey: false)
        let registered = try portal.call(["cmd": "register", "body": enrollment.request.body])
        _ = try store.activate(deviceId: enrollment.deviceId,
                               responseBody: try portal.string(registered, "response"))
        XCTAssertEqual(try store.accounts().first?.pushDeviceId, enrollment.deviceId)

        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let sent = try portal.call(["cmd": "challenge", "digits": 2, "purpose": "step_up"])
        let payload = try portal.string(sent, "payload")
        let peeked = try peekChallenge(path: path, key: Keychain(Data(count: 32)), payload: payload, clock: nil)
        XCTAssertEqual(title(peeked.purpose), "Confirm it's you")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the extension wrote")
        let view = try store.openChallenge(payload: payload)
        XCTAssertEqual(view, peeked)
        let answer = try store.answer(challengeId: view.id,
                                      answer: .approve(number: try portal.string(sent, "number"),
                                                       userVerified: true))
        let verified = try portal.call(["cmd": "verify", "body": answer.body])
        XCTAssertEqual(verified["decision"] as? String, "Approve", "\(verified)")

        // Deleting the one account for push and codes retires both, once confirmed.
        try store.delete(id: enrollment.accountId, retirePush: true)
        XCTAssertEqual(try store.accounts().count, 0)
        XCTAssertEqual(try store.pushAccounts().count, 0)
    }
}
