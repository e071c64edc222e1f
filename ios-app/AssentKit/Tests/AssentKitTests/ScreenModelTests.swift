// The screen models (State + Action + processor) against the real Rust library, with plain
// Swift stand-ins for the platform and the Rust portal side over a pipe.
import AssentKit
import Foundation
import XCTest

final class AccountListTests: XCTestCase {
    private func store(at time: UInt64) throws -> (Store, FixedClock) {
        let clock = FixedClock(time)
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: clock)
        return (store, clock)
    }

    func testCodesAndCountdownsAtFixedTimes() throws {
        let (store, clock) = try store(at: 59)
        _ = try store.addUri(uri: rfcSha1)
        _ = try store.addUri(uri: "otpauth://totp/GitHub:octo?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitHub")
        let list = AccountListProcessor(store: store, pasteboard: FakePasteboard())
        list.receive(.refresh)
        XCTAssertNil(list.state.error)
        XCTAssertEqual(list.state.rows.map(\.issuer), ["RFC", "GitHub"])
        let rfc = list.state.rows[0]
        XCTAssertEqual(rfc.code, "94287082")              // RFC 6238, T = 59
        XCTAssertEqual(rfc.displayCode, "9428 7082")
        XCTAssertEqual(rfc.secondsLeft, 1)
        XCTAssertEqual(rfc.progress, 1.0 / 30.0, accuracy: 1e-9)
        XCTAssertFalse(rfc.approvesSignIns)
        XCTAssertEqual(list.state.rows[1].iconKey, "brand:github")
        XCTAssertEqual(list.state.rows[1].displayCode.count, 7)

        clock.now = 1_111_111_109
        list.receive(.refresh)
        XCTAssertEqual(list.state.rows[0].code, "07081804")
        XCTAssertEqual(list.state.rows[0].secondsLeft, 1)
        clock.now = 1_111_111_110
        list.receive(.refresh)
        XCTAssertEqual(list.state.rows[0].secondsLeft, 30)
        XCTAssertEqual(list.state.rows[0].progress, 1)
        XCTAssertEqual(list.state.rows[1].iconKey, "brand:github", "a refresh keeps the rest")

        // An account added elsewhere (the add screen) shows at the next refresh.
        _ = try store.addUri(uri: "otpauth://totp/Later:x?secret=KRSXG5CTMVRXEZLU")
        list.receive(.refresh)
        XCTAssertEqual(list.state.rows.map(\.issuer), ["RFC", "GitHub", "Later"])
        XCTAssertEqual(try store.codeSheet().codes, list.state.rows.map(\.displayCode).joined(separator: "\n"))
    }

    func testSearchReorderAndCopyWithA30SecondExpiry() throws {
        let (store, _) = try store(at: 59)
        _ = try store.addUri(uri: rfcSha1)
        _ = try store.addUri(uri: "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=GitHub")
        _ = try store.addUri(uri: "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Bank&counter=0")
        let pasteboard = FakePasteboard()
        let list = AccountListProcessor(store: store, pasteboard: pasteboard)
        list.receive(.search("git"))
        XCTAssertEqual(list.state.rows.map(\.issuer), ["GitHub"])
        let githubCode = try store.accounts()[1].code
        XCTAssertEqual(list.state.rows.map(\.code), [githubCode], "a found account shows its own code")
        list.receive(.refresh)
        XCTAssertEqual(list.state.rows.map(\.code), [githubCode], "and keeps it at the refresh")
        list.receive(.search(""))
        XCTAssertEqual(list.state.rows.count, 3)

        let github = list.state.rows[1].id
        list.receive(.move(id: github, to: 0))
        XCTAssertEqual(list.state.rows.map(\.issuer), ["GitHub", "RFC", "Bank"])
        XCTAssertEqual(try store.accounts().map(\.issuer), ["GitHub", "RFC", "Bank"], "saved in the vault")

        list.receive(.copy(id: list.state.rows[1].id))
        XCTAssertEqual(pasteboard.items.map(\.text), ["94287082"])
        XCTAssertEqual(pasteboard.items.map(\.expiry), [30])
        XCTAssertEqual(list.state.copiedId, list.state.rows[1].id)

        // HOTP: a copy uses the code and the counter moves on.
        let bank = list.state.rows[2]
        XCTAssertNil(bank.secondsLeft)
        list.receive(.copy(id: bank.id))
        XCTAssertEqual(pasteboard.items.last?.text, bank.code)
        XCTAssertNotEqual(list.state.rows[2].code, bank.code)

        list.receive(.move(id: "nope", to: 0))
        XCTAssertNotNil(list.state.error)
        assertReadable(list.state.error ?? "")
        list.receive(.dismissError)
        XCTAssertNil(list.state.error)
    }
}

final class AddAccountTests: XCTestCase {
    private func processor() throws -> (AddAccountProcessor, Store) {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        return (AddAccountProcessor(store: store, enroller: nil, notifications: nil, pushAddress: { nil }), store)
    }

    func testFromAScannedUriAndABadOne() async throws {
        let (add, store) = try processor()
        await add.perform(.scanned(rfcSha1))
        guard case .added(let id) = add.state.phase else { return XCTFail("\(add.state)") }
        XCTAssertEqual(try store.accounts().map(\.id), [id])

        await add.perform(.scanned("https://example.com/not-a-qr"))
        XCTAssertEqual(add.state.phase, .editing)
        let error = try XCTUnwrap(add.state.error)
        XCTAssertTrue(error.contains("otpauth://"), error)
        assertReadable(error)
    }

    func testFromAPictureOfAQr() async throws {
        let (add, store) = try processor()
        await add.perform(.picked(try Paths.fixture("otpauth_qr.png"), password: nil))
        XCTAssertNil(add.state.error)
        XCTAssertEqual(add.state.phase, .imported)
        XCTAssertEqual(add.state.imported?.added, 1)
        XCTAssertEqual(try store.accounts().count, 1)

        await add.perform(.picked(try Paths.fixture("aegis_encrypted.json"), password: nil))
        XCTAssertEqual(add.state.phase, .needsPassword)
        await add.perform(.picked(try Paths.fixture("aegis_encrypted.json"), password: "nope"))
        XCTAssertEqual(add.state.phase, .needsPassword)
        assertReadable(add.state.error ?? "")
    }

    func testByHandWithEveryTypedErrorNextToItsField() async throws {
        let (add, store) = try processor()
        await add.perform(.saveEntry)
        XCTAssertEqual(Set(add.state.fieldErrors.keys), [.name, .secret])

        let cases: [(AccountField, String, AccountField, String)] = [
            (.secret, "JBSWY3DP", .secret, "40 bits is too short"),
            (.secret, "not base32!", .secret, "not a base32 character"),
            (.digits, "9", .digits, "6 to 8"),
            (.digits, "six", .digits, "whole number"),
            (.period, "0", .period, "at least 1 second"),
            (.algorithm, "MD5", .algorithm, "unknown algorithm"),
            (.kind, "motp", .kind, "unknown otp type"),
        ]
        for (field, value, expected, needle) in cases {
            add.receive(.set(.issuer, "Acme"))
            add.receive(.set(.name, "me@acme.test"))
            add.receive(.set(.secret, "JBSWY3DPEHPK3PXPJBSWY3DP"))
            add.receive(.set(.kind, "totp"))
            add.receive(.set(.algorithm, "SHA1"))
            add.receive(.set(.digits, "6"))
            add.receive(.set(.period, "30"))
            add.receive(.set(field, value))
            await add.perform(.saveEntry)
            XCTAssertEqual(Array(add.state.fieldErrors.keys), [expected], "\(field)=\(value): \(add.state)")
            let message = add.state.fieldErrors[expected] ?? ""
            XCTAssertTrue(message.lowercased().contains(needle.lowercased()), "\(message) lacks \(needle)")
            XCTAssertTrue(message.first?.isLowercase == false, "a sentence: \(message)")
            XCTAssertEqual(message.last, ".", message)
            XCTAssertNil(add.state.error)
        }
        XCTAssertEqual(try store.accounts().count, 0)

        add.receive(.set(.digits, "6"))
        add.receive(.set(.kind, "totp"))
        add.receive(.set(.secret, "jbsw y3dp ehpk 3pxp"))
        add.receive(.set(.name, "me + you@acme.test"))
        await add.perform(.saveEntry)
        XCTAssertEqual(add.state.fieldErrors, [:])
        guard case .added = add.state.phase else { return XCTFail("\(add.state)") }
        let account = try XCTUnwrap(try store.accounts().first)
        XCTAssertEqual(account.issuer, "Acme")
        XCTAssertEqual(account.name, "me + you@acme.test")
    }
}

final class ApprovalTests: XCTestCase {
    func testApproveWithTheNumberAfterFaceIdAndDeny() async throws {
        let portal = try Portal()
        defer { portal.close() }
        let (store, _, transport) = try await enrolledStore(portal)
        let sent = try portal.call(["cmd": "challenge", "digits": 2])
        let view = try store.openChallenge(payload: try portal.string(sent, "payload"))
        let number = try portal.string(sent, "number")
        let biometrics = FakeBiometrics(.verified)
        let approval = ApprovalProcessor(challenge: view, store: store, transport: transport,
                                         biometrics: biometrics, clock: FixedClock(now()),
                                         alwaysVerify: false)
        XCTAssertEqual(approval.state.phase, .open)
        XCTAssertEqual(approval.state.digitsToType, 2)
        XCTAssertGreaterThan(approval.state.secondsLeft, 50)
        XCTAssertEqual(approval.state.context.title, "Sign in to Acme Mail?")
        XCTAssertFalse(approval.state.canApprove)

        let before = transport.sent.count
        await approval.perform(.approve)
        XCTAssertEqual(approval.state.error, ApprovalMessage.typeDigits(2))
        XCTAssertEqual(transport.sent.count, before, "nothing sent without the number")

        approval.receive(.typeDigit("x"))
        for digit in number { approval.receive(.typeDigit(digit)) }
        approval.receive(.typeDigit("9"))
        XCTAssertEqual(approval.state.number, number, "at most the digits asked for")
        XCTAssertTrue(approval.state.canApprove)
        await approval.perform(.approve)
        XCTAssertEqual(approval.state.phase, .approved, "\(approval.state)")
        XCTAssertNil(approval.state.error)
        XCTAssertEqual(biometrics.asked.count, 1, "preferred: asked once")
        XCTAssertEqual(transport.sent.count, before + 1)
        await approval.perform(.approve)
        XCTAssertEqual(transport.sent.count, before + 1, "answered once")

        for notMe in [false, true] {
            let next = try portal.call(["cmd": "challenge", "digits": NSNull()])
            let deny = ApprovalProcessor(
                challenge: try store.openChallenge(payload: try portal.string(next, "payload")),
                store: store, transport: transport, biometrics: biometrics,
                clock: FixedClock(now()), alwaysVerify: false)
            await deny.perform(.deny(notMe: notMe))
            XCTAssertEqual(deny.state.phase, .denied)
        }
        XCTAssertEqual(biometrics.asked.count, 1, "no Face ID to deny")
    }

    func testRefusedVerificationSendsNothing() async throws {
        let portal = try Portal()
        defer { portal.close() }
        let (store, _, transport) = try await enrolledStore(portal)
        let sent = try portal.call(["cmd": "challenge", "digits": NSNull()])
        let view = try store.openChallenge(payload: try portal.string(sent, "payload"))
        let before = transport.sent.count
        for (result, message) in [(VerificationResult.refused, ApprovalMessage.refusedVerification),
                                  (.unavailable, ApprovalMessage.noVerification)] {
            // The app setting asks for Face ID even though the portal only prefers it.
            let approval = ApprovalProcessor(challenge: view, store: store, transport: transport,
                                             biometrics: FakeBiometrics(result), clock: FixedClock(now()),
                                             alwaysVerify: true)
            await approval.perform(.approve)
            XCTAssertEqual(approval.state.phase, .open)
            XCTAssertEqual(approval.state.error, message)
            assertReadable(message)
        }
        XCTAssertEqual(transport.sent.count, before, "nothing sent")
        // Still open: approved once Face ID says yes.
        let approval = ApprovalProcessor(challenge: view, store: store, transport: transport,
                                         biometrics: FakeBiometrics(.verified), clock: FixedClock(now()),
                                         alwaysVerify: true)
        await approval.perform(.approve)
        XCTAssertEqual(approval.state.phase, .approved)
    }

    func testExpiredShowsTheExpiryErrorAndSendsNothing() async throws {
        let portal = try Portal()
        defer { portal.close() }
        let clock = FixedClock(now())
        let (store, _, transport) = try await enrolledStore(portal, clock: clock)
        let sent = try portal.call(["cmd": "challenge", "digits": NSNull()])
        let view = try store.openChallenge(payload: try portal.string(sent, "payload"))
        let approval = ApprovalProcessor(challenge: view, store: store, transport: transport,
                                         biometrics: FakeBiometrics(.verified), clock: clock,
                                         alwaysVerify: false)
        let before = transport.sent.count
        clock.now = view.expiresAt - 1
        approval.receive(.tick)
        XCTAssertEqual(approval.state.secondsLeft, 1)
        clock.now = view.expiresAt
        approval.receive(.tick)
        XCTAssertEqual(approval.state.phase, .expired)
        XCTAssertEqual(approval.state.error, ApprovalMessage.expired)
        await approval.perform(.approve)
        XCTAssertEqual(transport.sent.count, before)
        assertReadable(ApprovalMessage.expired)

        // The portal saying so after it was sent reads the same.
        let late = ApprovalProcessor(
            challenge: view, store: store,
            transport: RecordingTransport { _ throws(PortalFailure) in throw .refusal(status: 410, body: #"{"error":"expired","message":""}"#) },
            biometrics: FakeBiometrics(.verified), clock: FixedClock(view.expiresAt - 30), alwaysVerify: false)
        clock.now = view.expiresAt - 30
        await late.perform(.approve)
        XCTAssertEqual(late.state.phase, .expired)
        XCTAssertEqual(late.state.error, ApprovalMessage.expired)
    }
}

final class NotificationAndPushTests: XCTestCase {
    func testTheExtensionContentShowsTheContextNeverTheNumber() async throws {
        let portal = try Portal()
        defer { portal.close() }
        let path = try Paths.tempVault()
        let store = try Store.open(path: path, key: Keychain(Data(count: 32)), keystore: nil, clock: nil)
        let transport = pipeTransport(portal)
        let qr = try portal.string(try portal.call(["cmd": "qr"]), "qr")
        _ = try await Enroller(store: store, transport: transport, deviceName: "iPhone", hardwareKey: false)
            .enroll(qr: qr, push: .apns(token: "a1", sandbox: true, topic: nil))
        let sent = try portal.call(["cmd": "challenge", "digits": 3])
        let number = try portal.string(sent, "number")
        let userInfo: [AnyHashable: Any] = [
            "aps": ["category": challengeCategory, "mutable-content": 1],
            payloadKey: try portal.string(sent, "payload"),
        ]
        let content = NotificationContentBuilder.content(
            userInfo: userInfo, vaultPath: path, key: Keychain(Data(count: 32)))
        XCTAssertEqual(content.title, "Sign in to Acme Mail?")
        XCTAssertEqual(content.body, "Firefox on Linux\nLyon, FR · IP 203.0.113.7\nApprove, then type the number shown on the sign-in page.")
        XCTAssertEqual(content.categoryIdentifier, "ASSENT_CHALLENGE")
        XCTAssertTrue(content.timeSensitive)
        XCTAssertNotNil(content.challengeId)
        assertNumberNotShown(number, in: [content.title, content.subtitle, content.body])
        let missing = NotificationContentBuilder.content(userInfo: ["aps": [:] as [String: Any]],
                                                         vaultPath: path, key: Keychain(Data(count: 32)))
        XCTAssertEqual(missing.title, "Sign-in request")
        let locked = NotificationContentBuilder.content(userInfo: userInfo, vaultPath: path,
                                                        key: Keychain(Data(repeating: 7, count: 32)))
        XCTAssertEqual(locked.body, "Open Assent to see this sign-in request.")
    }

    func testTokenChangesAreSentOnceAndPendingRequestsArePulled() async throws {
        let portal = try Portal()
        defer { portal.close() }
        let (store, enrollment, _) = try await enrolledStore(portal)
        let sent = try portal.call(["cmd": "challenge", "digits": NSNull()])
        let payload = try portal.string(sent, "payload")
        let transport = RecordingTransport { request throws(PortalFailure) -> String in
            request.url.hasSuffix("/pending") ? "{\"challenges\":[\"\(payload)\"]}" : ""
        }
        let preferences = MemoryPreferences()
        let push = PushCoordinator(store: store, transport: transport, preferences: preferences,
                                   topic: "org.assent.app", sandbox: false)
        XCTAssertNil(push.address)
        let updated = await push.tokenChanged(Data([0xde, 0xad, 0xbe, 0xef]))
        XCTAssertEqual(updated, [enrollment.deviceId])
        XCTAssertEqual(push.address, .apns(token: "deadbeef", sandbox: false, topic: "org.assent.app"))
        let again = await push.tokenChanged(Data([0xde, 0xad, 0xbe, 0xef]))
        XCTAssertEqual(again, [], "the same token again")
        XCTAssertEqual(transport.sent.map { URL(string: $0.url)?.lastPathComponent }, ["push-token"])

        let pending = await push.pullPending()
        XCTAssertEqual(pending.map(\.application), ["Acme Mail"])
        let fromNotification = try push.challenge(fromNotification: [payloadKey: payload])
        XCTAssertEqual(fromNotification.id, pending.first?.id)
        XCTAssertThrowsError(try push.challenge(fromNotification: [:]))
    }
}

final class DetailsAndSettingsTests: XCTestCase {
    func testRenameAndDeleteWithThePushWarning() async throws {
        let portal = try Portal()
        defer { portal.close() }
        let (store, enrollment, _) = try await enrolledStore(portal)
        let list = AccountListProcessor(store: store, pasteboard: FakePasteboard())
        list.receive(.refresh)
        XCTAssertEqual(list.state.rows.map(\.approvesSignIns), [true], "the push account is marked")

        let details = try XCTUnwrap(AccountDetailsProcessor(accountId: enrollment.accountId, store: store))
        XCTAssertEqual(details.state.portal, "https://portal.acme.test")
        XCTAssertEqual(details.state.device, enrollment.deviceId)
        details.receive(.setName("work"))
        details.receive(.saveName)
        XCTAssertEqual(try store.accounts().first?.name, "work")

        details.receive(.delete)
        let warning = try XCTUnwrap(details.state.confirmDelete)
        XCTAssertTrue(warning.contains("approves sign-ins"), warning)
        XCTAssertFalse(details.state.deleted)
        details.receive(.cancelDelete)
        XCTAssertEqual(try store.accounts().count, 1)
        details.receive(.delete)
        details.receive(.confirmDelete)
        XCTAssertTrue(details.state.deleted)
        XCTAssertEqual(try store.accounts().count, 0)
        XCTAssertEqual(try store.pushAccounts().count, 0)
        XCTAssertNil(AccountDetailsProcessor(accountId: enrollment.accountId, store: store))
    }

    func testSettingsDefaultsAppLockAndBackups() async throws {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        _ = try store.addUri(uri: rfcSha1)
        let preferences = MemoryPreferences()
        let settings = SettingsProcessor(store: store, preferences: preferences,
                                         biometrics: FakeBiometrics(.refused))
        XCTAssertTrue(settings.state.settings.screenCaptureProtection, "on by default")
        XCTAssertEqual(settings.state.settings.theme, .system)
        XCTAssertNil(settings.state.backup)
        settings.receive(.setTheme(.dark))
        settings.receive(.setScreenCaptureProtection(false))
        await settings.perform(.enableAppLock)
        XCTAssertFalse(settings.state.settings.appLock, "refused Face ID leaves app lock off")
        assertReadable(settings.state.error ?? "")
        let again = SettingsProcessor(store: store, preferences: preferences,
                                      biometrics: FakeBiometrics(.verified))
        XCTAssertEqual(again.state.settings.theme, .dark, "kept")
        XCTAssertFalse(again.state.settings.screenCaptureProtection)
        await again.perform(.enableAppLock)
        XCTAssertTrue(again.state.settings.appLock)

        let folder = try Paths.tempDirectory().path
        await again.perform(.enableBackups(folder: folder, passphrase: "correct horse battery", keep: 3))
        XCTAssertNil(again.state.error)
        XCTAssertEqual(again.state.backup?.folder, folder)
        XCTAssertEqual(again.state.versions.count, 1)
        let version = try XCTUnwrap(again.state.versions.first?.path)
        await again.perform(.export(passphrase: "another passphrase"))
        XCTAssertGreaterThan(again.state.exported?.count ?? 0, 0)
        again.receive(.disableBackups)
        XCTAssertNil(again.state.backup)

        // Restore the version into an empty vault on a new phone.
        let fresh = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        let restore = SettingsProcessor(store: fresh, preferences: MemoryPreferences(),
                                        biometrics: FakeBiometrics(.verified))
        await restore.perform(.restore(path: version, passphrase: "wrong"))
        XCTAssertNotNil(restore.state.error)
        assertReadable(restore.state.error ?? "")
        await restore.perform(.restore(path: version, passphrase: "correct horse battery"))
        XCTAssertNil(restore.state.error)
        XCTAssertEqual(restore.state.restored?.added, 1)
        XCTAssertEqual(try fresh.accounts().map(\.issuer), ["RFC"])
        XCTAssertTrue(again.state.privacy.contains("collects nothing"))
    }
}

final class ImportFromFilesTests: XCTestCase {
    private func settings() throws -> (SettingsProcessor, Store) {
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        return (SettingsProcessor(store: store, preferences: MemoryPreferences(),
                                  biometrics: FakeBiometrics(.verified)), store)
    }

    func testAnUnencryptedExportImportsAndSaysWhatItDid() async throws {
        let (settings, store) = try settings()
        _ = try store.addUri(uri: rfcSha1)
        let other = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        _ = try other.addUri(uri: rfcSha1)
        _ = try other.addUri(uri: "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
        let export = Data(try other.exportUris().utf8)
        XCTAssertEqual(settings.state.fileImport, .idle)

        await settings.perform(.importFile(data: export, password: nil))
        XCTAssertNil(settings.state.error)
        guard case .imported(let report) = settings.state.fileImport else {
            return XCTFail("\(settings.state.fileImport)")
        }
        XCTAssertEqual(report.added, 1)
        XCTAssertEqual(report.duplicates.count, 1, "RFC was already here")
        XCTAssertEqual(try store.accounts().map(\.issuer), ["RFC", "GitHub"])
        XCTAssertEqual(report.summary.first, "Added 1 account.")
        XCTAssertTrue(report.summary[1].hasPrefix("Already in Assent: RFC"), "\(report.summary)")
        report.summary.forEach { assertReadable($0) }
        settings.receive(.dismissImport)
        XCTAssertEqual(settings.state.fileImport, .idle)

        // What a Google Authenticator export skips (its MD5 account) is said too.
        await settings.perform(.importFile(data: try Paths.fixture("google_migration.txt"), password: nil))
        guard case .imported(let google) = settings.state.fileImport else {
            return XCTFail("\(settings.state.fileImport)")
        }
        XCTAssertFalse(google.skipped.isEmpty)
        XCTAssertTrue(google.summary.contains { $0.hasPrefix("Not imported: ") && $0.contains("not supported") },
                      "\(google.summary)")
        google.summary.forEach { assertReadable($0) }
    }

    func testAnEncryptedBackupAsksForItsPasswordThenImports() async throws {
        let (settings, store) = try settings()
        let old = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                 keystore: nil, clock: nil)
        _ = try old.addUri(uri: rfcSha1)
        _ = try old.addUri(uri: "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
        let backup = try old.exportBackup(passphrase: "backup passphrase")

        await settings.perform(.importFile(data: backup, password: nil))
        XCTAssertEqual(settings.state.fileImport, .needsPassword)
        XCTAssertNil(settings.state.error, "asking for the password is not an error")
        XCTAssertEqual(try store.accounts().count, 0)

        await settings.perform(.importFile(data: backup, password: "not it"))
        XCTAssertEqual(settings.state.fileImport, .needsPassword, "asked again")
        let wrong = try XCTUnwrap(settings.state.error)
        XCTAssertTrue(wrong.contains("password"), wrong)
        assertReadable(wrong)
        XCTAssertEqual(try store.accounts().count, 0)

        await settings.perform(.importFile(data: backup, password: "backup passphrase"))
        XCTAssertNil(settings.state.error)
        guard case .imported(let report) = settings.state.fileImport else {
            return XCTFail("\(settings.state.fileImport)")
        }
        XCTAssertEqual(report.added, 2)
        XCTAssertEqual(report.summary, ["Added 2 accounts."])
        XCTAssertEqual(try store.accounts().map(\.issuer), ["RFC", "GitHub"])
    }

    func testAFileThatIsNotAnExportGetsASentence() async throws {
        let (settings, store) = try settings()
        await settings.perform(.importFile(data: Data("%PDF-1.7 a document".utf8), password: nil))
        XCTAssertEqual(settings.state.fileImport, .idle)
        let error = try XCTUnwrap(settings.state.error)
        assertReadable(error)
        XCTAssertEqual(try store.accounts().count, 0)

        settings.receive(.chosenFileUnreadable)
        XCTAssertEqual(settings.state.fileImport, .idle)
        assertReadable(try XCTUnwrap(settings.state.error))
    }
}

final class StoredVaultKeyTests: XCTestCase {
    final class MemorySecrets: SecretStore, @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String: Data] = [:]
        func read(_ name: String) throws -> Data? { lock.withLock { items[name] } }
        func write(_ name: String, _ value: Data) throws { lock.withLock { items[name] = value } }
    }

    func testTheAppCreatesTheKeyOnceAndTheExtensionReadsIt() throws {
        let secrets = MemorySecrets()
        let app = StoredVaultKey(secrets: secrets, random: { Data(repeating: 9, count: $0) })
        let path = try Paths.tempVault()
        let store = try Store.open(path: path, key: app, keystore: nil, clock: nil)
        _ = try store.addUri(uri: rfcSha1)
        XCTAssertEqual(try secrets.read(StoredVaultKey.itemName), Data(repeating: 9, count: 32))
        XCTAssertEqual(try app.vaultKey(), Data(repeating: 9, count: 32), "the same key again")
        let readOnly = StoredVaultKey(secrets: secrets, random: nil)
        XCTAssertEqual(try readOnly.vaultKey(), Data(repeating: 9, count: 32))
        XCTAssertThrowsError(try StoredVaultKey(secrets: MemorySecrets(), random: nil).vaultKey())
    }
}
