// The real `portal` process on loopback, the real relay with the project's mock FCM in front of
// it (tests/push-mocks), and a browser that signs in to the portal, for the end-to-end tests.
// The phone side is the presentation module itself, over HttpPortalTransport.
package org.assent.presentation

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.io.BufferedReader
import java.io.File
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.delay
import org.assent.core.ChallengeView
import org.assent.core.PushAddress
import org.assent.core.Store

const val ADMIN_TOKEN = "kotlin-e2e-admin-token"
const val PASSWORD = "correct horse battery staple"

private val http: HttpClient = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build()

/** `portal` on 127.0.0.1 with an ephemeral port, a temporary SQLite database and the test
 *  clock. `stop()` kills it. */
class PortalServer(arguments: List<String> = emptyList(), environment: Map<String, String> = emptyMap()) :
    AutoCloseable {
    private val process: Process
    val url: String

    init {
        val dir = Paths.tempDirectory()
        val builder = ProcessBuilder(
            listOf(
                File(Paths.target, "portal").path, "--db", File(dir, "portal.db").path, "--listen", "127.0.0.1:0",
                "--admin-token", ADMIN_TOKEN, "--test-clock",
            ) + arguments,
        )
        builder.environment()["PORTAL_LOG"] = "warn"
        builder.environment().putAll(environment)
        builder.redirectError(File(dir, "portal.log"))
        process = builder.start()
        val line = process.inputStream.bufferedReader().readLine() ?: ""
        val prefix = "portal listening on "
        if (!line.startsWith(prefix)) {
            process.destroyForcibly()
            throw IllegalStateException("portal did not start: $line ${File(dir, "portal.log").readText().takeLast(600)}")
        }
        url = line.removePrefix(prefix).trim()
    }

    /** SIGKILL, as the Rust e2e tests do (a graceful stop waits for idle keep-alive connections). */
    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }

    fun addUser(name: String) {
        val status = admin("POST", "/admin/api/users", """{"username":"$name","password":"$PASSWORD"}""")
        check(status == 201) { "add user: $status" }
    }

    /** Moves the portal's clock forward. */
    fun advanceClock(seconds: Int) {
        val status = admin("POST", "/test/clock", """{"advance":$seconds}""")
        check(status == 200) { "clock: $status" }
    }

    private fun admin(method: String, path: String, json: String): Int {
        val request = HttpRequest.newBuilder(URI(url + path))
            .method(method, HttpRequest.BodyPublishers.ofString(json))
            .header("Authorization", "Bearer $ADMIN_TOKEN")
            .header("Content-Type", "application/json")
            .build()
        return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode()
    }
}

/** A browser: a cookie jar, redirects followed, Firefox's user agent. */
class Browser(private val portal: PortalServer) {
    data class Page(val status: Int, val path: String, val body: String, val bytes: ByteArray) {
        /** The text of the element with `id`, entities decoded. */
        fun element(id: String): String? {
            val start = body.indexOf("id=\"$id\"").takeIf { it >= 0 } ?: return null
            val open = body.indexOf('>', start).takeIf { it >= 0 } ?: return null
            val close = body.indexOf('<', open + 1).takeIf { it >= 0 } ?: return null
            return body.substring(open + 1, close)
                .replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
                .replace("&amp;", "&")
        }
    }

    /** The cookie jar: name → value, sent back as they came (the portal's are host-only). */
    private val cookies = mutableMapOf<String, String>()

    fun get(path: String): Page = load("GET", path, null)

    fun post(path: String, form: List<Pair<String, String>>): Page = load("POST", path, form)

    fun login(user: String): Page = post("/login", listOf("username" to user, "password" to PASSWORD))

    /** The waiting page's status JSON. */
    fun pushStatus(): JsonObject = JsonParser.parseString(get("/login/push/status").body).asJsonObject

    private fun load(method: String, path: String, form: List<Pair<String, String>>?): Page {
        var target = URI(portal.url + path)
        var verb = method
        var body = form?.joinToString("&") { (k, v) -> "$k=${URLEncoder.encode(v, Charsets.UTF_8)}" }
        repeat(10) {
            val builder = HttpRequest.newBuilder(target)
                .header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
            if (cookies.isNotEmpty()) {
                builder.header("Cookie", cookies.entries.sortedBy { it.key }.joinToString("; ") { "${it.key}=${it.value}" })
            }
            if (body != null) {
                builder.header("Content-Type", "application/x-www-form-urlencoded")
                builder.method(verb, HttpRequest.BodyPublishers.ofString(body))
            } else {
                builder.method(verb, HttpRequest.BodyPublishers.noBody())
            }
            val response = http.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray())
            for (header in response.headers().allValues("Set-Cookie")) {
                val (name, value) = header.substringBefore(';').split('=', limit = 2).let { it[0].trim() to it.getOrElse(1) { "" } }
                if (header.contains("Max-Age=0")) cookies.remove(name) else cookies[name] = value
            }
            val location = response.headers().firstValue("Location").orElse(null)
            if (response.statusCode() in 300..399 && location != null) {
                target = target.resolve(location)
                verb = "GET"
                body = null
                return@repeat
            }
            val bytes = response.body()
            return Page(response.statusCode(), target.path, bytes.decodeToString(), bytes)
        }
        throw IllegalStateException("too many redirects")
    }
}

/** `push-mocks`: the mock APNs/FCM and a real relay; each notification accepted as a JSON line. */
class PushMocks : AutoCloseable {
    private val process: Process
    private val delivered = LinkedBlockingQueue<JsonObject>()
    val relayUrl: String
    val apiKey: String

    /** Holds the mocks' CA certificate (`ca.pem`). */
    val dir: File = Paths.tempDirectory()

    init {
        process = ProcessBuilder(
            File(Paths.target, "push-mocks").path, "--relay", File(Paths.target, "push-relay").path,
            "--dir", dir.path,
        ).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val reader: BufferedReader = process.inputStream.bufferedReader()
        val first = JsonParser.parseString(reader.readLine() ?: "{}").asJsonObject
        relayUrl = first.get("relay_url")?.asString ?: throw IllegalStateException("push-mocks did not start")
        apiKey = first.get("api_key").asString
        Thread {
            while (true) {
                val line = reader.readLine() ?: break
                runCatching { delivered.add(JsonParser.parseString(line).asJsonObject) }
            }
        }.apply { isDaemon = true }.start()
    }

    /** The next notification delivered to `token` (10 s at most). */
    fun next(token: String): JsonObject {
        val deadline = System.nanoTime() + 10_000_000_000
        val skipped = mutableListOf<JsonObject>()
        try {
            while (System.nanoTime() < deadline) {
                val item = delivered.poll(50, TimeUnit.MILLISECONDS) ?: continue
                if (item.get("token")?.asString == token) return item
                skipped.add(item)
            }
        } finally {
            delivered.addAll(skipped)
        }
        throw IllegalStateException("no notification for $token")
    }

    /** What FirebaseMessagingService hands the app: `RemoteMessage.data`. */
    fun data(delivery: JsonObject): Map<String, String> =
        delivery.getAsJsonObject("received").entrySet().associate { (k, v) -> k to v.asString }

    /** Closing stdin stops the mocks and the relay they started. */
    override fun close() {
        process.outputStream.close()
        process.waitFor(10, TimeUnit.SECONDS)
        process.destroyForcibly()
    }
}

/** A phone: its vault, the presentation models, HttpPortalTransport to the portal. */
class Phone(token: String = "fcm-token-" + java.util.UUID.randomUUID()) {
    val vaultPath = Paths.tempVault()
    val store: Store = Store.open(vaultPath, ZeroKey(), JvmKeystore(), null)
    val transport = CountingTransport(HttpPortalTransport())
    val preferences = MemoryPreferences()
    val push = PushCoordinator(store, transport, preferences)
    val permission = FakePermission()

    init {
        kotlinx.coroutines.runBlocking { push.tokenChanged(token) }
    }

    fun addModel() = AddAccountModel(
        store, Enroller(store, transport, "Test Pixel", hardwareKey = true), permission,
    ) { push.address }

    fun approval(
        view: ChallengeView,
        biometrics: Biometrics = FakeBiometrics(VerificationResult.VERIFIED),
        alwaysVerify: Boolean = false,
    ) = ApprovalModel(view, store, transport, biometrics, SystemClock, alwaysVerify)

    val address: PushAddress? get() = push.address
}

/** Waits until the browser's sign-in is no longer pending. */
suspend fun settled(browser: Browser): JsonObject {
    repeat(200) {
        val status = browser.pushStatus()
        if (status.get("status")?.asString != "pending") return status
        delay(20)
    }
    return browser.pushStatus()
}
