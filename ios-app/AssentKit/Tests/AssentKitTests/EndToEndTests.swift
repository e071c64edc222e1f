// AssentKit against the real `portal` process over URLSession: one-QR enrollment, a browser's
// sign-in approved with the number, deny and "not me", expiry by the portal's test clock, user
// verification refused, re-enrollment, and a deleted push account that no longer answers.
// Pending requests reach the phone by the pull on foreground (these portals have no relay,
// except the deleted account's, which checks the APNs payload too; the APNs path that
// approves is in PushPathTests).
import AssentKit
import Foundation
import XCTest

final class EndToEndTests: XCTestCase {
    private func portal(_ arguments: [String] = []) throws -> PortalServer {
        let portal = try PortalServer(arguments)
        addTeardownBlock { portal.stop() }
        return portal
    }

    /// Signs `user` in for the first time and enrolls `phone` from the QR on the page, through
    /// the add screen. Returns the signed-in browser.
    private func enroll(_ phone: Phone, _ portal: PortalServer, _ user: String,
                        file: StaticString = #filePath, line: UInt = #line) async throws -> Browser {
        let browser = Browser(portal)
        let page = try await browser.login(user)
        XCTAssertEqual(page.path, "/enroll", "a user without MFA goes to enrollment", file: file, line: line)
        let qr = try XCTUnwrap(page.element("enrollment-uri"), file: file, line: line)
        let before = try await browser.get("/enroll/status")
        XCTAssertTrue(before.body.contains("\"enrolled\":false"), before.body, file: file, line: line)
        let add = phone.addProcessor()
        await add.perform(.scanned(qr))
        guard case .enrolled(let accountId, let deviceId) = add.state.phase else {
            XCTFail("not enrolled: \(add.state)", file: file, line: line)
            return browser
        }
        XCTAssertEqual(try phone.store.pushAccounts().map(\.deviceId), [deviceId], file: file, line: line)
        XCTAssertEqual(try phone.store.accounts().first?.pushDeviceId, deviceId, file: file, line: line)
        XCTAssertEqual(try phone.store.accounts().first?.id, accountId, file: file, line: line)
        XCTAssertEqual(phone.notifications.permissionRequests, 1, "asked once the portal verified the device",
                       file: file, line: line)
        let status = try await browser.get("/enroll/status")
        XCTAssertTrue(status.body.contains("\"enrolled\":true"), status.body, file: file, line: line)
        return browser
    }

    /// A password sign-in that waits for the phone; returns the browser and the number shown.
    private func signIn(_ portal: PortalServer, _ user: String,
                        file: StaticString = #filePath, line: UInt = #line) async throws -> (Browser, String?) {
        let browser = Browser(portal)
        let page = try await browser.login(user)
        XCTAssertEqual(page.path, "/login/push", page.body, file: file, line: line)
        return (browser, page.element("number"))
    }

    /// The one request the phone finds when the app comes to the foreground.
    private func pulled(_ phone: Phone, file: StaticString = #filePath, line: UInt = #line) async throws
        -> ChallengeView
    {
        let pending = await phone.push.pullPending()
        XCTAssertEqual(pending.count, 1, "\(pending)", file: file, line: line)
        return try XCTUnwrap(pending.first, file: file, line: line)
    }

    private func settled(_ browser: Browser) async throws -> [String: Any] {
        for _ in 0..<200 {
            let status = try await browser.pushStatus()
            if status["status"] as? String != "pending" { return status }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return try await browser.pushStatus()
    }

    func testOneQrEnrollmentThenASignInApprovedWithTheNumber() async throws {
        let portal = try portal()
        try await portal.addUser("alice")
        let phone = try await Phone()
        let enrolled = try await enroll(phone, portal, "alice")
        let home = try await enrolled.get("/")
        XCTAssertTrue(home.body.contains("Signed in as alice"), "enrollment signs the session in")

        let (browser, shown) = try await signIn(portal, "alice")
        let number = try XCTUnwrap(shown, "number matching is on by default")
        let view = try await pulled(phone)
        XCTAssertEqual(view.user, "alice")
        XCTAssertEqual(view.application, "Assent Demo Portal")
        XCTAssertEqual(view.browser, "Firefox 140")
        XCTAssertEqual(view.ip, "127.0.0.1")
        XCTAssertEqual(view.numberDigits, 2)
        let content = NotificationContentBuilder.content(for: view)
        assertNumberNotShown(number, in: [content.title, content.subtitle, content.body])

        let approval = phone.approval(view)
        for digit in number { approval.receive(.typeDigit(digit)) }
        await approval.perform(.approve)
        XCTAssertEqual(approval.state.phase, .approved, "\(approval.state)")
        let status = try await settled(browser)
        XCTAssertEqual(status["status"] as? String, "approved", "\(status)")
        let signedIn = try await browser.get("/")
        XCTAssertTrue(signedIn.body.contains("Signed in as alice"))
        let again = await phone.push.pullPending()
        XCTAssertEqual(again.count, 0, "nothing left pending")
    }

    func testDenyAndNotMe() async throws {
        let portal = try portal()
        try await portal.addUser("bob")
        let phone = try await Phone()
        _ = try await enroll(phone, portal, "bob")

        let (browser, _) = try await signIn(portal, "bob")
        let deny = phone.approval(try await pulled(phone))
        await deny.perform(.deny(notMe: false))
        XCTAssertEqual(deny.state.phase, .denied)
        let denied = try await settled(browser)
        XCTAssertEqual(denied["status"] as? String, "denied")
        let home = try await browser.get("/")
        XCTAssertTrue(home.path.hasPrefix("/login"), "no session after a deny")

        let (second, _) = try await signIn(portal, "bob")
        let notMe = phone.approval(try await pulled(phone))
        await notMe.perform(.deny(notMe: true))
        XCTAssertEqual(notMe.state.phase, .denied)
        let status = try await settled(second)
        XCTAssertEqual(status["status"] as? String, "denied")
        XCTAssertTrue((status["message"] as? String ?? "").contains("not you"), "\(status)")
    }

    func testExpiryByThePortalClockShowsTheExpiryError() async throws {
        let portal = try portal()
        try await portal.addUser("carol")
        let phone = try await Phone()
        _ = try await enroll(phone, portal, "carol")
        let (browser, number) = try await signIn(portal, "carol")
        let approval = phone.approval(try await pulled(phone))
        for digit in number ?? "" { approval.receive(.typeDigit(digit)) }

        try await portal.advanceClock(61)
        let expired = try await browser.pushStatus()
        XCTAssertEqual(expired["status"] as? String, "expired")
        // The phone's clock is 61 s behind the portal's, so the request still looks open here;
        // the portal refuses the late answer and the screen says so.
        await approval.perform(.approve)
        XCTAssertEqual(approval.state.phase, .expired)
        XCTAssertEqual(approval.state.error, ApprovalMessage.expired)
        XCTAssertEqual(phone.transport.urls.last.map { URL(string: $0)?.lastPathComponent }, "answers")
    }

    func testRequiredVerificationRefusedSendsNothing() async throws {
        let portal = try portal(["--user-verification", "required"])
        try await portal.addUser("dave")
        let phone = try await Phone()
        _ = try await enroll(phone, portal, "dave")
        let (browser, number) = try await signIn(portal, "dave")
        let view = try await pulled(phone)
        XCTAssertEqual(view.userVerification, .required)
        let sent = phone.transport.urls.count

        let refused = phone.approval(view, biometrics: FakeBiometrics(.refused))
        for digit in number ?? "" { refused.receive(.typeDigit(digit)) }
        await refused.perform(.approve)
        XCTAssertEqual(refused.state.phase, .open)
        XCTAssertEqual(refused.state.error, ApprovalMessage.refusedVerification)
        XCTAssertEqual(phone.transport.urls.count, sent, "nothing sent")
        let pending = try await browser.pushStatus()
        XCTAssertEqual(pending["status"] as? String, "pending")

        let verified = phone.approval(view, biometrics: FakeBiometrics(.verified))
        for digit in number ?? "" { verified.receive(.typeDigit(digit)) }
        await verified.perform(.approve)
        XCTAssertEqual(verified.state.phase, .approved, "\(verified.state)")
        let approved = try await settled(browser)
        XCTAssertEqual(approved["status"] as? String, "approved")
    }

    /// Deleting the account on the phone retires its push enrollment there only: the portal is
    /// not told, so it goes on pushing sign-ins to this phone, which can no longer open nor
    /// answer them. The browser is left waiting.
    func testAfterDeletingThePushAccountThePhoneNoLongerAnswers() async throws {
        let mocks = try PushMocks()
        addTeardownBlock { mocks.stop() }
        let portal = try PortalServer(relayedBy: mocks)
        addTeardownBlock { portal.stop() }
        try await portal.addUser("gina")
        let token = "6b".appending(String(repeating: "fedcba9876543210", count: 4).dropFirst(2))
        let phone = try await Phone(token: token)
        _ = try await enroll(phone, portal, "gina")
        let accountId = try XCTUnwrap(try phone.store.accounts().first?.id)

        let details = try XCTUnwrap(AccountDetailsProcessor(accountId: accountId, store: phone.store))
        details.receive(.delete)
        let warning = try XCTUnwrap(details.state.confirmDelete, "a push account warns first")
        assertReadable(warning)
        XCTAssertFalse(details.state.deleted)
        XCTAssertEqual(try phone.store.accounts().count, 1, "nothing deleted before the confirmation")
        details.receive(.confirmDelete)
        XCTAssertNil(details.state.error)
        XCTAssertTrue(details.state.deleted)
        XCTAssertEqual(try phone.store.accounts().count, 0)
        XCTAssertEqual(try phone.store.pushAccounts().count, 0)

        // The portal still counts the phone as this user's device: a sign-in waits for it and
        // the push goes out.
        let (browser, number) = try await signIn(portal, "gina")
        let push = try await mocks.next(to: token)
        XCTAssertEqual(push["platform"], "apns")
        let userInfo = try notificationUserInfo(from: push)
        let sent = phone.transport.urls.count

        // The extension: the fallback text, with nothing of the request in it.
        let content = NotificationContentBuilder.content(
            userInfo: userInfo, vaultPath: phone.vaultPath, key: Keychain(Data(count: 32)))
        XCTAssertEqual(content.title, "Sign-in request")
        XCTAssertEqual(content.subtitle, "")
        XCTAssertEqual(content.body, "This sign-in request is no longer open.")
        XCTAssertNil(content.challengeId)
        for text in [content.title, content.subtitle, content.body] {
            for context in ["Assent Demo Portal", "gina", "Firefox", "127.0.0.1"] {
                XCTAssertFalse(text.contains(context), "\(context) in \(text)")
            }
        }
        assertNumberNotShown(try XCTUnwrap(number), in: [content.title, content.subtitle, content.body])

        // The app: nothing pending to pull, and the payload does not open.
        let pending = await phone.push.pullPending()
        XCTAssertEqual(pending.count, 0, "\(pending)")
        guard case .RequestClosed(let closed)? = assentError({
            try phone.store.openChallenge(payload: try XCTUnwrap(push["payload"]))
        }) else { return XCTFail("the deleted account's challenge did not fail as RequestClosed") }
        assertReadable(closed)
        XCTAssertThrowsError(try phone.push.challenge(fromNotification: userInfo))
        XCTAssertEqual(phone.transport.urls.count, sent, "the phone sent nothing to the portal")

        // At the portal the sign-in still waits for an answer.
        let status = try await browser.pushStatus()
        XCTAssertEqual(status["status"] as? String, "pending", "\(status)")
        let home = try await browser.get("/")
        XCTAssertTrue(home.path.hasPrefix("/login"), "not signed in: \(home.path)")
    }

    func testReEnrollmentReplacesTheDevice() async throws {
        let portal = try portal()
        try await portal.addUser("erin")
        let old = try await Phone()
        let browser = try await enroll(old, portal, "erin")
        let (_, staleNumber) = try await signIn(portal, "erin")
        let stale = old.approval(try await pulled(old))

        let page = try await browser.get("/enroll")
        let qr = try XCTUnwrap(page.element("enrollment-uri"))
        let new = try await Phone(token: "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")
        let add = new.addProcessor()
        await add.perform(.scanned(qr))
        guard case .enrolled = add.state.phase else { return XCTFail("\(add.state)") }

        for digit in staleNumber ?? "" { stale.receive(.typeDigit(digit)) }
        await stale.perform(.approve)
        XCTAssertEqual(stale.state.phase, .closed)
        XCTAssertEqual(stale.state.error, PortalFailure.refusal(status: 401, body: #"{"error":"unknown_device","message":"x"}"#).message)

        let (signIn, number) = try await signIn(portal, "erin")
        let approval = new.approval(try await pulled(new))
        for digit in number ?? "" { approval.receive(.typeDigit(digit)) }
        await approval.perform(.approve)
        XCTAssertEqual(approval.state.phase, .approved)
        let approved = try await settled(signIn)
        XCTAssertEqual(approved["status"] as? String, "approved")
    }
}
