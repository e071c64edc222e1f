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

final class IconColorTests: XCTestCase {
    func testTheCoresHexParsesIntoComponents() throws {
        let github = try XCTUnwrap(IconColor(hex: "#181717"))
        XCTAssertEqual(github.red, 0x18 / 255, accuracy: 1e-12)
        XCTAssertEqual(github.green, 0x17 / 255, accuracy: 1e-12)
        XCTAssertEqual(github.blue, 0x17 / 255, accuracy: 1e-12)
        XCTAssertEqual(IconColor(hex: "#ffFC00"), IconColor(hex: "#FFFC00"), "either case")
        XCTAssertEqual(IconColor(hex: "#FFFFFF"), IconColor(red: 1, green: 1, blue: 1))
        XCTAssertEqual(IconColor(hex: "#000000"), IconColor(red: 0, green: 0, blue: 0))
        for bad in ["", "#", "181717", "#18171", "#1817170", "#18171G", "#+18171", "# 18171",
                    "#-1-1-1", "#１８１７１７", "0x181717"] {
            XCTAssertNil(IconColor(hex: bad), bad)
        }
    }

    /// The core's `Color::is_light` cases (authenticator-core/src/icons.rs), which the view uses to
    /// pick the disc behind a brand's logo.
    func testLightColoursAreTheCoresLightOnes() throws {
        XCTAssertFalse(try XCTUnwrap(IconColor(hex: "#181717")).isLight, "GitHub")
        XCTAssertTrue(try XCTUnwrap(IconColor(hex: "#FFFC00")).isLight, "Snapchat")
        XCTAssertTrue(IconColor(red: 1, green: 1, blue: 1).isLight)
        XCTAssertFalse(IconColor(red: 0, green: 0, blue: 0).isLight)
        XCTAssertEqual(IconColor(red: 1, green: 1, blue: 1).luminance, 1, accuracy: 1e-12)
    }

    func testEveryAccountsIconHasAColourThatParses() throws {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        let secrets = ["JBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLU", "GEZDGNBVGY3TQOJQ", "MFRGGZDFMZTWQ2LK",
                       "ONSWG4TFOQYTEMZU"]
        for (issuer, secret) in zip(["GitHub", "Snapchat", "Zorblax", "Acme", "!!!"], secrets) {
            _ = try store.addUri(uri: "otpauth://totp/\(issuer):me?secret=\(secret)")
        }
        for account in try store.accounts() {
            switch account.icon {
            case .brand(_, _, _, let hex), .letter(_, let hex):
                XCTAssertNotNil(IconColor(hex: hex), "\(account.issuer): \(hex)")
                XCTAssertEqual(account.icon.color, IconColor(hex: hex))
            }
            // The letter avatar takes white text, every time.
            if case .letter = account.icon { XCTAssertFalse(account.icon.color.isLight, account.issuer) }
        }
        let icons = try store.accounts().map(\.icon)
        XCTAssertEqual(icons.last, .letter(letter: "?", color: "#5F6368"))
        XCTAssertEqual(icons.last?.color, .unknown, "the core's grey")
        XCTAssertEqual(AccountIcon.letter(letter: "A", color: "red").color, .unknown)
        XCTAssertEqual(icons.map(\.color.isLight).prefix(2), [false, true], "GitHub dark, Snapchat light")
    }
}
