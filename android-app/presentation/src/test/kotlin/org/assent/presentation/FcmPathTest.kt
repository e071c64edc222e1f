// The FCM path end to end: portal → real push-relay → the project's mock FCM (through
// tests/push-mocks' `push-mocks` binary) → the FCM service's logic → the Approve action with the
// number typed into its RemoteInput → the browser is signed in. And a token refresh: it reaches
// the portal, and the next push goes to the new token.
package org.assent.presentation

import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Test

class FcmPathTest {
    private val closing = mutableListOf<AutoCloseable>()

    @After
    fun stop() = closing.reversed().forEach { it.close() }

    private fun stack(): Pair<PushMocks, PortalServer> {
        val mocks = PushMocks().also(closing::add)
        val portal = PortalServer(
            listOf("--relay-url", mocks.relayUrl, "--relay-api-key", mocks.apiKey),
            mapOf("SSL_CERT_FILE" to java.io.File(mocks.dir, "ca.pem").path),
        ).also(closing::add)
        return mocks to portal
    }

    private suspend fun enrolled(portal: PortalServer, user: String, token: String): Phone {
        portal.addUser(user)
        val phone = Phone(token)
        val page = Browser(portal).login(user)
        val add = phone.addModel()
        add.perform(AddAccountEffect.Scanned(assertNotNull(page.element("enrollment-uri"))))
        assertIs<AddPhase.Enrolled>(add.state.value.phase, "${add.state.value}")
        return phone
    }

    @Test
    fun aLoginThroughFcmApprovedFromTheNotificationsRemoteInput() = runBlocking {
        val (mocks, portal) = stack()
        val token = "fcm-frank-" + "a".repeat(40)
        val phone = enrolled(portal, "frank", token)

        val browser = Browser(portal)
        val waiting = browser.login("frank")
        assertEquals("/login/push", waiting.path)
        val number = assertNotNull(waiting.element("number"))
        val delivery = mocks.next(token)
        assertEquals("fcm", delivery.get("platform").asString)
        val data = mocks.data(delivery)
        assertEquals(setOf(PAYLOAD_KEY), data.keys, "the data message carries the challenge only")

        // The FirebaseMessagingService: the challenge opened, the context shown, never the number.
        val notification = FcmMessageHandler.notification(data, phone.store, SystemClock)
        assertEquals("Sign in to Assent Demo Portal?", notification.title)
        assertTrue(notification.text.contains("Firefox 140"), notification.text)
        assertTrue(notification.text.contains("127.0.0.1"), notification.text)
        assertEquals(SignInChannel.ID, notification.channelId)
        assertTrue(notification.hasActions)
        assertEquals("The 2-digit number", notification.numberHint)
        assertTrue(!notification.requiresVerification, "the portal only prefers verification")
        val timeout = assertNotNull(notification.timeoutMillis)
        assertTrue(timeout in 1..60_000, "$timeout")
        assertNumberNotShown(number, listOf(notification.title, notification.subText, notification.text))

        // Not one of our actions: nothing answered here (the app opens the approval screen).
        assertNull(
            NotificationResponder.respond(
                "android.intent.action.VIEW", null, data, phone.store, phone.transport,
                FakeBiometrics(VerificationResult.VERIFIED), SystemClock, alwaysVerify = false,
            ),
        )
        // Approve with the number typed into the RemoteInput.
        val answered = NotificationResponder.respond(
            SignInActions.APPROVE, " $number ", data, phone.store, phone.transport,
            FakeBiometrics(VerificationResult.VERIFIED), SystemClock, alwaysVerify = false,
        )
        assertEquals(ApprovalPhase.APPROVED, answered?.phase, "$answered")
        assertEquals("approved", settled(browser).get("status").asString)
        assertTrue(browser.get("/").body.contains("Signed in as frank"))

        // The same message again (FCM may deliver twice): answered already, nothing sent.
        val sent = phone.transport.urls.size
        val again = FcmMessageHandler.notification(data, phone.store, SystemClock)
        assertTrue(!again.hasActions, "$again")
        assertEquals(sent, phone.transport.urls.size)
    }

    @Test
    fun denyFromTheNotificationAndAMessageWithoutAChallenge() = runBlocking {
        val (mocks, portal) = stack()
        val token = "fcm-gina-" + "b".repeat(40)
        val phone = enrolled(portal, "gina", token)
        val browser = Browser(portal)
        browser.login("gina")
        val data = mocks.data(mocks.next(token))
        val denied = NotificationResponder.respond(
            SignInActions.DENY, null, data, phone.store, phone.transport,
            FakeBiometrics(VerificationResult.VERIFIED), SystemClock, alwaysVerify = false,
        )
        assertEquals(ApprovalPhase.DENIED, denied?.phase)
        assertEquals("denied", settled(browser).get("status").asString)

        val empty = FcmMessageHandler.notification(emptyMap(), phone.store, SystemClock)
        assertTrue(!empty.hasActions)
        assertReadable(empty.text)
        val garbage = FcmMessageHandler.notification(mapOf(PAYLOAD_KEY to "not.a.jws"), phone.store, SystemClock)
        assertTrue(!garbage.hasActions)
    }

    @Test
    fun aTokenRefreshReachesThePortalAndTheNextPushGoesToTheNewToken() = runBlocking {
        val (mocks, portal) = stack()
        val first = "fcm-hank-first-" + "c".repeat(40)
        val phone = enrolled(portal, "hank", first)
        val second = "fcm-hank-second-" + "d".repeat(40)
        val updated = phone.push.tokenChanged(second)
        assertEquals(phone.store.pushAccounts().map { it.deviceId }, updated)
        assertEquals(emptyList(), phone.push.tokenChanged(second), "the same token is not sent twice")

        val browser = Browser(portal)
        val number = assertNotNull(browser.login("hank").element("number"))
        val data = mocks.data(mocks.next(second))
        val answered = NotificationResponder.respond(
            SignInActions.APPROVE, number, data, phone.store, phone.transport,
            FakeBiometrics(VerificationResult.VERIFIED), SystemClock, alwaysVerify = false,
        )
        assertEquals(ApprovalPhase.APPROVED, answered?.phase, "$answered")
        assertEquals("approved", settled(browser).get("status").asString)
    }
}
