// The presentation module against the real `portal` process over HttpPortalTransport: one-QR
// enrollment read from the portal's QR image as a camera frame, deny and "not me", expiry by
// the portal's test clock, user verification refused, pull on foreground, and re-enrollment.
// The FCM path (relay + mock FCM) is in FcmPathTest.
package org.assent.presentation

import java.awt.image.BufferedImage
import java.io.ByteArrayInputStream
import javax.imageio.ImageIO
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.assent.core.ChallengeView
import org.assent.core.ErrorCode
import org.assent.core.UserVerification
import org.junit.After
import org.junit.Test

/** The portal's QR image as CameraX would hand it over: its luminance, rows padded. */
fun cameraFrame(png: ByteArray): String? {
    val image: BufferedImage = ImageIO.read(ByteArrayInputStream(png))
    val stride = image.width + 32
    val luma = ByteArray(stride * image.height)
    for (y in 0 until image.height) {
        for (x in 0 until image.width) {
            val rgb = image.getRGB(x, y)
            val grey = ((rgb shr 16 and 0xff) * 299 + (rgb shr 8 and 0xff) * 587 + (rgb and 0xff) * 114) / 1000
            luma[y * stride + x] = grey.toByte()
        }
    }
    return FrameScanner.scan(image.width, image.height, stride, luma)
}

class EndToEndTest {
    private val closing = mutableListOf<AutoCloseable>()

    @After
    fun stop() = closing.reversed().forEach { it.close() }

    private fun portal(arguments: List<String> = emptyList()) = PortalServer(arguments).also(closing::add)

    /** Signs `user` in for the first time and enrolls `phone` by scanning the page's QR image
     *  through the add screen. Returns the signed-in browser. */
    private suspend fun enroll(phone: Phone, portal: PortalServer, user: String): Browser {
        val browser = Browser(portal)
        val page = browser.login(user)
        assertEquals("/enroll", page.path, "a user without MFA goes to enrollment")
        val uri = assertNotNull(page.element("enrollment-uri"))
        val qr = browser.get("/enroll/qr.png")
        assertEquals(200, qr.status)
        val scanned = assertNotNull(cameraFrame(qr.bytes), "the QR image read as a camera frame")
        assertEquals(uri, scanned)
        assertTrue(browser.get("/enroll/status").body.contains("\"enrolled\":false"))

        val add = phone.addModel()
        add.perform(AddAccountEffect.Scanned(scanned))
        val enrolled = assertIs<AddPhase.Enrolled>(add.state.value.phase, "${add.state.value}")
        assertEquals(listOf(enrolled.deviceId), phone.store.pushAccounts().map { it.deviceId })
        val account = phone.store.accounts().first()
        assertEquals(enrolled.deviceId, account.pushDeviceId)
        assertEquals(enrolled.accountId, account.id)
        assertEquals(1, phone.permission.requests, "asked once the portal verified the device")
        assertTrue(browser.get("/enroll/status").body.contains("\"enrolled\":true"))
        return browser
    }

    /** A password sign-in that waits for the phone; returns the browser and the number shown. */
    private fun signIn(portal: PortalServer, user: String): Pair<Browser, String?> {
        val browser = Browser(portal)
        val page = browser.login(user)
        assertEquals("/login/push", page.path, page.body)
        return browser to page.element("number")
    }

    /** The one request the phone finds when the app comes to the foreground. */
    private suspend fun pulled(phone: Phone): ChallengeView {
        val pending = phone.push.pullPending()
        assertEquals(1, pending.size, "$pending")
        return pending.single()
    }

    @Test
    fun oneQrEnrollmentThenASignInApprovedWithTheNumber() = runBlocking {
        val portal = portal()
        portal.addUser("alice")
        val phone = Phone()
        val enrolled = enroll(phone, portal, "alice")
        assertTrue(enrolled.get("/").body.contains("Signed in as alice"), "enrollment signs the session in")

        val (browser, shown) = signIn(portal, "alice")
        val number = assertNotNull(shown, "number matching is on by default")
        val view = pulled(phone)
        assertEquals("alice", view.user)
        assertEquals("Assent Demo Portal", view.application)
        assertEquals("Firefox 140", view.browser)
        assertEquals("127.0.0.1", view.ip)
        assertEquals(2, view.numberDigits?.toInt())
        val notification = SignInNotification.of(view)
        assertNumberNotShown(number, listOf(notification.title, notification.subText, notification.text))

        val approval = phone.approval(view)
        assertTrue(!approval.state.value.canApprove)
        number.forEach { approval.onAction(ApprovalAction.TypeDigit(it)) }
        assertTrue(approval.state.value.canApprove)
        approval.perform(ApprovalEffect.Approve)
        assertEquals(ApprovalPhase.APPROVED, approval.state.value.phase, "${approval.state.value}")
        assertEquals("approved", settled(browser).get("status").asString)
        assertTrue(browser.get("/").body.contains("Signed in as alice"))
        assertEquals(0, phone.push.pullPending().size, "nothing left pending")
    }

    @Test
    fun denyAndNotMe() = runBlocking {
        val portal = portal()
        portal.addUser("bob")
        val phone = Phone()
        enroll(phone, portal, "bob")

        val (browser, _) = signIn(portal, "bob")
        val deny = phone.approval(pulled(phone))
        deny.perform(ApprovalEffect.Deny(notMe = false))
        assertEquals(ApprovalPhase.DENIED, deny.state.value.phase)
        assertEquals("denied", settled(browser).get("status").asString)
        assertTrue(browser.get("/").path.startsWith("/login"), "no session after a deny")

        val (second, _) = signIn(portal, "bob")
        val notMe = phone.approval(pulled(phone))
        notMe.perform(ApprovalEffect.Deny(notMe = true))
        assertEquals(ApprovalPhase.DENIED, notMe.state.value.phase)
        val status = settled(second)
        assertEquals("denied", status.get("status").asString)
        assertTrue(status.get("message").asString.contains("not you"), "$status")
    }

    @Test
    fun expiryByThePortalClockShowsTheExpiryError() = runBlocking {
        val portal = portal()
        portal.addUser("carol")
        val phone = Phone()
        enroll(phone, portal, "carol")
        val (browser, number) = signIn(portal, "carol")
        val approval = phone.approval(pulled(phone))
        number?.forEach { approval.onAction(ApprovalAction.TypeDigit(it)) }

        portal.advanceClock(61)
        assertEquals("expired", browser.pushStatus().get("status").asString)
        // The phone's clock is 61 s behind the portal's, so the request still looks open here;
        // the portal refuses the late answer and the screen says so.
        approval.perform(ApprovalEffect.Approve)
        assertEquals(ApprovalPhase.EXPIRED, approval.state.value.phase)
        assertEquals(ApprovalMessage.EXPIRED, approval.state.value.error)
        assertTrue(phone.transport.urls.last().endsWith("/answers"), phone.transport.urls.last())
    }

    @Test
    fun requiredVerificationRefusedSendsNothing() = runBlocking {
        val portal = portal(listOf("--user-verification", "required"))
        portal.addUser("dave")
        val phone = Phone()
        enroll(phone, portal, "dave")
        val (browser, number) = signIn(portal, "dave")
        val view = pulled(phone)
        assertEquals(UserVerification.REQUIRED, view.userVerification)
        assertTrue(SignInNotification.of(view).requiresVerification, "Approve must open the app")
        val sent = phone.transport.urls.size

        val biometrics = FakeBiometrics(VerificationResult.REFUSED)
        val refused = phone.approval(view, biometrics)
        number?.forEach { refused.onAction(ApprovalAction.TypeDigit(it)) }
        refused.perform(ApprovalEffect.Approve)
        assertEquals(1, biometrics.asked)
        assertEquals(ApprovalPhase.OPEN, refused.state.value.phase)
        assertEquals(ApprovalMessage.REFUSED_VERIFICATION, refused.state.value.error)
        assertEquals(sent, phone.transport.urls.size, "nothing sent")
        assertEquals("pending", browser.pushStatus().get("status").asString)

        val verified = phone.approval(view, FakeBiometrics(VerificationResult.VERIFIED))
        number?.forEach { verified.onAction(ApprovalAction.TypeDigit(it)) }
        verified.perform(ApprovalEffect.Approve)
        assertEquals(ApprovalPhase.APPROVED, verified.state.value.phase, "${verified.state.value}")
        assertEquals("approved", settled(browser).get("status").asString)
    }

    @Test
    fun reEnrollmentReplacesTheDevice() = runBlocking {
        val portal = portal()
        portal.addUser("erin")
        val old = Phone()
        val browser = enroll(old, portal, "erin")
        val (_, staleNumber) = signIn(portal, "erin")
        val stale = old.approval(pulled(old))

        val qr = assertNotNull(browser.get("/enroll").element("enrollment-uri"))
        val new = Phone()
        val add = new.addModel()
        add.perform(AddAccountEffect.Scanned(qr))
        assertIs<AddPhase.Enrolled>(add.state.value.phase, "${add.state.value}")

        staleNumber?.forEach { stale.onAction(ApprovalAction.TypeDigit(it)) }
        stale.perform(ApprovalEffect.Approve)
        assertEquals(ApprovalPhase.CLOSED, stale.state.value.phase)
        assertEquals(
            PortalFailure.refused(401, """{"error":"unknown_device","message":"x"}""").userMessage,
            stale.state.value.error,
        )

        val (signIn, number) = signIn(portal, "erin")
        val approval = new.approval(pulled(new))
        number?.forEach { approval.onAction(ApprovalAction.TypeDigit(it)) }
        approval.perform(ApprovalEffect.Approve)
        assertEquals(ApprovalPhase.APPROVED, approval.state.value.phase)
        assertEquals("approved", settled(signIn).get("status").asString)
    }

    @Test
    fun deletingTheAccountThatApprovesSignInsWarnsFirstAndTheRequestsStopReachingThePhone() = runBlocking {
        val portal = portal()
        portal.addUser("fay")
        val phone = Phone()
        enroll(phone, portal, "fay")
        val account = phone.store.accounts().single()
        val details = assertNotNull(AccountDetailsModel.open(account.id, phone.store))
        assertEquals(account.pushDeviceId, details.state.value.device)
        assertEquals(portal.url, details.state.value.portal?.trimEnd('/'))
        details.onAction(AccountDetailsAction.Delete)
        assertReadable(details.state.value.confirmDelete)
        assertTrue(!details.state.value.deleted, "nothing deleted before the warning is confirmed")
        assertEquals(1, phone.store.accounts().size)
        details.onAction(AccountDetailsAction.ConfirmDelete)
        assertTrue(details.state.value.deleted)
        assertEquals(0, phone.store.accounts().size)
        assertEquals(0, phone.store.pushAccounts().size)

        // The portal still asks (the phone cannot tell it yet), but the phone no longer answers.
        val (browser, _) = signIn(portal, "fay")
        assertEquals(0, phone.push.pullPending().size)
        assertEquals("pending", browser.pushStatus().get("status").asString)
    }

    @Test
    fun theTransportReadsThePortalsRefusalsAndSaysWhenItCannotReachIt() = runBlocking {
        val portal = portal()
        val transport = HttpPortalTransport()
        val refused = runCatching {
            transport.send(org.assent.core.PortalRequest("POST", portal.url + "/assent/v1/answers", "application/jose", "x.y.z"))
        }.exceptionOrNull()
        val failure = assertIs<PortalFailure.Refused>(refused)
        assertEquals(ErrorCode.MALFORMED, failure.code)
        assertReadable(failure.userMessage)
        portal.close()
        val down = runCatching {
            transport.send(org.assent.core.PortalRequest("POST", portal.url + "/assent/v1/answers", "application/jose", "x"))
        }.exceptionOrNull()
        assertIs<PortalFailure.Unreachable>(down)
        assertReadable(down.userMessage)
    }
}
