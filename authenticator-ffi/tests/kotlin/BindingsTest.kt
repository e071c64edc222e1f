// The Kotlin bindings on the JVM, used the way the Android app uses them: a key provider and a
// keystore written in Kotlin (java.security, as the Android Keystore exposes it), the vault,
// imports, and the push flow against the Rust portal side (authenticator-ffi's test_portal).
// Prints "kotlin: N passed, N failed"; exits non-zero on any failure.

import org.assent.core.*
import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.nio.file.Files
import java.security.KeyPairGenerator
import java.security.PrivateKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

const val RFC_SHA1 = "otpauth://totp/RFC:sha1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=RFC"
val root: File = File(System.getProperty("assent.root") ?: ".").absoluteFile
val target: File = File(System.getProperty("assent.target") ?: "target/debug").absoluteFile

class Keychain(private val key: ByteArray) : VaultKeyProvider {
    override fun vaultKey(): ByteArray = key
}

class FixedClock(var now: ULong) : Clock {
    override fun nowUnixSeconds(): ULong = now
}

/** Stands in for the Android Keystore: the JCA's EC keys, DER signatures. */
class JcaKeystore : DeviceKeystore {
    val keys = java.util.concurrent.ConcurrentHashMap<String, PrivateKey>()
    /** When set, signing fails as a cancelled biometric prompt does. */
    @Volatile var refuse: String? = null
    override fun createKey(alias: String): ByteArray {
        val generator = KeyPairGenerator.getInstance("EC")
        generator.initialize(ECGenParameterSpec("secp256r1"))
        val pair = generator.generateKeyPair()
        keys[alias] = pair.private
        val point = (pair.public as ECPublicKey).w
        fun fixed(n: java.math.BigInteger): ByteArray {
            val bytes = n.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
            return ByteArray(32 - bytes.size) + bytes
        }
        return byteArrayOf(4) + fixed(point.affineX) + fixed(point.affineY)
    }
    override fun sign(alias: String, message: ByteArray): ByteArray {
        refuse?.let { throw KeystoreException.Unavailable(it) }
        val key = keys[alias] ?: throw KeystoreException.Unavailable("no key $alias")
        val signature = Signature.getInstance("SHA256withECDSA")
        signature.initSign(key)
        signature.update(message)
        return signature.sign()
    }
}

/** The Rust portal side over a pipe, one JSON line per command. */
class Portal : AutoCloseable {
    private val process = ProcessBuilder(File(target, "examples/test_portal").path).start()
    private val reader = BufferedReader(InputStreamReader(process.inputStream))
    fun call(json: String): String {
        process.outputStream.write((json + "\n").toByteArray())
        process.outputStream.flush()
        return reader.readLine()
    }
    override fun close() {
        process.outputStream.close()
        process.waitFor()
    }
}

fun quote(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
fun field(json: String, name: String): String {
    val match = Regex("\"$name\":\"((?:[^\"\\\\]|\\\\.)*)\"").find(json) ?: error("no $name in $json")
    return match.groupValues[1].replace("\\\"", "\"").replace("\\\\", "\\")
}

fun tempVault(): String = Files.createTempDirectory("assent").resolve("vault.json").toString()

/** A message for the user: a sentence, with none of uniffi's or Rust's debug output in it. */
fun assertSentence(e: Throwable) {
    val text = e.message ?: error("no message")
    assertTrue(text.first().isUpperCase() && text.last() in ".!?", "not a sentence: $text")
    for (dump in listOf("message=", "Some(", "Err(", "{ ", "\\n")) {
        assertTrue(!text.contains(dump), "debug output in: $text")
    }
}

/** An enrolled store: the keystore, the portal, the store and its device id. */
class Enrolled(val portal: Portal, val keystore: JcaKeystore, val path: String, val store: Store, val deviceId: String)

fun enrolled(portal: Portal, clock: Clock? = null): Enrolled {
    val keystore = JcaKeystore()
    val path = tempVault()
    val store = Store.open(path, Keychain(ByteArray(32)), keystore, clock)
    val qr = field(portal.call("""{"cmd":"qr"}"""), "qr")
    val enrollment = store.enroll(qr, DevicePlatform.ANDROID, "Pixel", PushAddress.Fcm("fcm-token"), true)
    val registered = portal.call("""{"cmd":"register","body":${quote(enrollment.request.body)}}""")
    val activation = store.activate(enrollment.deviceId, field(registered, "response"))
    assertTrue(portal.call("""{"cmd":"verify","body":${quote(activation.body)}}""").contains("\"ok\":true"))
    return Enrolled(portal, keystore, path, store, enrollment.deviceId)
}

fun shown(purpose: Purpose): String = when (purpose) {
    Purpose.LOGIN -> "sign-in"
    Purpose.STEP_UP -> "confirmation"
    Purpose.PASSWORD_RESET -> "password reset"
    Purpose.ACTIVATE -> "activation"
}

val tests = linkedMapOf<String, () -> Unit>(
    "codes for a known vector" to {
        assertEquals("94287082", codeForUri(RFC_SHA1, 59uL))
        assertEquals("07081804", codeForUri(RFC_SHA1, 1111111109uL))
    },
    "vault round trip with a Kotlin key provider" to {
        val path = tempVault()
        val key = ByteArray(32) { it.toByte() }
        val clock = FixedClock(59uL)
        val store = Store.open(path, Keychain(key), null, clock)
        val id = store.addUri(RFC_SHA1)
        store.rename(id, "RFC 6238", null)
        val first = store.accounts().single()
        assertEquals("RFC 6238", first.issuer)
        assertEquals("94287082", first.code)
        assertEquals(1u, first.remainingSeconds)
        assertEquals(0u, first.position)
        val revision = store.revision()
        assertEquals(CodeSheet(revision, "9428 7082", listOf(1u)), store.codeSheet())
        store.rename(id, "RFC", null)
        assertTrue(store.codeSheet().revision > revision, "a rename moves the revision on")
        store.destroy()
        val again = Store.open(path, Keychain(key), null, clock)
        assertEquals("RFC", again.accounts().single().issuer)
        assertTrue(!File(path).readText().contains("GEZDGNBV"), "the secret is stored in clear")
    },
    "accounts carry their icon" to {
        val store = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        store.addUri("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
        store.addUri("otpauth://totp/Zorblax%20Intranet:bob?secret=KRSXG5CTMVRXEZLU")
        val (github, unknown) = store.accounts()
        assertEquals("brand:github", github.iconKey)
        val brand = github.icon as AccountIcon.Brand
        assertEquals("brand_github", brand.asset)
        assertTrue(Regex("#[0-9A-F]{6}").matches(brand.color), brand.color)
        val letter = unknown.icon as AccountIcon.Letter
        assertEquals("Z", letter.letter)
        assertEquals("letter:Z", unknown.iconKey)
        assertEquals(null, github.pushDeviceId)
    },
    "automatic backups: a version per change, restorable with the import" to {
        val folder = Files.createTempDirectory("backups").toString()
        val clock = FixedClock(1_800_000_000uL)
        val store = Store.open(tempVault(), Keychain(ByteArray(32)), null, clock)
        assertEquals(null, store.backupStatus())
        store.addUri(RFC_SHA1)
        val on = store.enableAutoBackup(folder, 2u, "backup passphrase")
        assertEquals(folder, on.folder)
        assertEquals(false, on.pending)
        clock.now += 60uL
        store.addUri("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP")
        clock.now += 60uL
        store.rename(store.accounts()[1].id, "GitHub, Inc.", null)
        // Within the 30 s debounce, a change waits for the flush the app does when backgrounded.
        clock.now += 1uL
        store.moveTo(store.accounts()[1].id, 0u)
        assertEquals(true, store.backupStatus()!!.pending)
        assertEquals(false, store.flushBackup()!!.pending)
        val versions = backupVersions(folder)
        assertEquals(2, versions.size, "keeps the last two")
        assertTrue(versions[0].time > versions[1].time, "newest first")
        val restored = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        val report = restored.importData(File(versions[1].path).readBytes(), "backup passphrase")
        assertEquals(2u, report.added)
        assertEquals("GitHub, Inc.", restored.accounts().first { it.name == "alice" }.issuer)
        val status = store.backupStatus()!!
        assertEquals(versions[0].path, status.lastSuccessFile)
        assertEquals(null, status.lastFailure)
        store.disableAutoBackup()
        assertEquals(null, store.backupStatus())
        val wrong = assertFailsWith<AssentException.InvalidInput> { store.enableAutoBackup("relative/folder", 2u, "x") }
        assertSentence(wrong)
    },
    "a Google Authenticator import" to {
        val store = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        val fixture = File(root, "authenticator-core/tests/fixtures/import/google_migration.txt")
        val report = store.importData(fixture.readBytes(), null)
        assertTrue(report.added > 0u, "nothing imported")
        assertEquals(report.added.toInt(), store.accounts().size)
        assertEquals(emptyList(), report.missingParts)
    },
    "each error arrives as a typed exception with a readable message" to {
        val bad = assertFailsWith<AssentException.InvalidInput> { codeForUri("otpauth://totp/x?secret=JBSWY3DP", 0uL) }
        assertTrue(bad.message!!.contains("secret: 40 bits is too short"), bad.message)
        assertTrue(!bad.message!!.contains("JBSWY3DP"), "the secret is in the message: ${bad.message}")
        assertSentence(bad)
        val path = tempVault()
        Store.open(path, Keychain(ByteArray(32) { 1 }), null, null).destroy()
        val wrong = assertFailsWith<AssentException.WrongPassword> { Store.open(path, Keychain(ByteArray(32)), null, null) }
        assertTrue(wrong.message!!.contains("Wrong passphrase or key"), wrong.message)
        assertSentence(wrong)
        assertSentence(assertFailsWith<AssentException.PlatformKey> { Store.open(path, Keychain(ByteArray(3)), null, null) })
        val directory = Files.createTempDirectory("not-a-vault").toString()
        assertSentence(assertFailsWith<AssentException.Storage> { Store.open(directory, Keychain(ByteArray(32)), null, null) })
        val encrypted = File(root, "authenticator-core/tests/fixtures/import/aegis_encrypted.json").readBytes()
        val importer = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        val needs = assertFailsWith<AssentException.PasswordRequired> { importer.importData(encrypted, null) }
        assertTrue(needs.message!!.contains("password"), needs.message)
        assertSentence(needs)
        assertSentence(assertFailsWith<AssentException.WrongPassword> { importer.importData(encrypted, "nope") })
        assertTrue(importer.importData(encrypted, "test").added > 0u)
        val store = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        // With no push enrollment, nothing can be for this device: dismiss it.
        val closed = assertFailsWith<AssentException.RequestClosed> { store.openChallenge("not.a.challenge") }
        assertTrue(closed.message!!.contains("No push account"), closed.message)
        assertSentence(closed)
        assertSentence(assertFailsWith<AssentException.RequestClosed> {
            store.answer("unknown", UserAnswer.Approve(null, false))
        })
    },
    "push errors: keystore refusals, portal replies, confirmations" to {
        Portal().use { portal ->
            val device = enrolled(portal)
            val store = device.store
            // A cancelled biometric prompt: PlatformKey with the platform's words; nothing
            // answered, and the store still works and answers once the user tries again.
            val sent = portal.call("""{"cmd":"challenge","digits":2}""")
            val view = store.openChallenge(field(sent, "payload"))
            device.keystore.refuse = "Authentication was cancelled by the user"
            val refused = assertFailsWith<AssentException.PlatformKey> {
                store.answer(view.id, UserAnswer.Approve(field(sent, "number"), true))
            }
            assertTrue(refused.message!!.contains("cancelled by the user"), refused.message)
            assertSentence(refused)
            device.keystore.refuse = null
            assertEquals(1, store.accounts().size, "the store still answers")
            val answer = store.answer(view.id, UserAnswer.Approve(field(sent, "number"), true))
            assertTrue(portal.call("""{"cmd":"verify","body":${quote(answer.body)}}""").contains("\"ok\":true"))
            // A registration response the protocol does not allow.
            val qr = field(portal.call("""{"cmd":"qr"}"""), "qr")
            val other = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
            val enrollment = other.enroll(qr, DevicePlatform.ANDROID, "Pixel", PushAddress.Fcm("t"), false)
            val reply = assertFailsWith<AssentException.PortalReply> { other.activate(enrollment.deviceId, "<html>502</html>") }
            assertSentence(reply)
            // An activation arriving by push is not something to approve.
            val activation = portal.call("""{"cmd":"challenge","purpose":"activate"}""")
            assertSentence(assertFailsWith<AssentException.InvalidInput> { store.openChallenge(field(activation, "payload")) })
            // A poll answer: every request in it is opened; a body that is not one is the portal's fault.
            val first = field(portal.call("""{"cmd":"challenge","digits":null}"""), "payload")
            val second = field(portal.call("""{"cmd":"challenge","digits":null,"purpose":"password_reset"}"""), "payload")
            val pulled = store.openPending("""{"challenges":[${quote(first)},${quote(second)}]}""")
            assertEquals(listOf(Purpose.LOGIN, Purpose.PASSWORD_RESET), pulled.map { it.purpose })
            store.answer(pulled[0].id, UserAnswer.Deny(false, false))
            assertEquals(1, store.openPending("""{"challenges":[${quote(first)},${quote(second)}]}""").size)
            assertSentence(assertFailsWith<AssentException.PortalReply> { store.openPending("<html>502</html>") })
            // Deleting the account that approves sign-ins needs the user's confirmation.
            val account = store.accounts().single()
            assertEquals(device.deviceId, account.pushDeviceId)
            val confirm = assertFailsWith<AssentException.NeedsConfirmation> { store.delete(account.id, false) }
            assertTrue(confirm.message!!.contains("approves sign-ins"), confirm.message)
            assertSentence(confirm)
            assertEquals(1, store.pushAccounts().size)
            store.delete(account.id, true)
            assertEquals(0, store.accounts().size)
            assertEquals(0, store.pushAccounts().size)
        }
    },
    "enrollment from a portal QR, a challenge answered with a Kotlin platform signer" to {
        Portal().use { portal ->
            val keystore = JcaKeystore()
            val store = Store.open(tempVault(), Keychain(ByteArray(32)), keystore, null)
            val qr = field(portal.call("""{"cmd":"qr"}"""), "qr")
            val enrollment = store.enroll(qr, DevicePlatform.ANDROID, "Pixel", PushAddress.Fcm("fcm-token"), true)
            assertEquals(1, keystore.keys.size)
            val registered = portal.call("""{"cmd":"register","body":${quote(enrollment.request.body)}}""")
            val activation = store.activate(enrollment.deviceId, field(registered, "response"))
            assertTrue(portal.call("""{"cmd":"verify","body":${quote(activation.body)}}""").contains("\"ok\":true"))
            val sent = portal.call("""{"cmd":"challenge","digits":2}""")
            val view = store.openChallenge(field(sent, "payload"))
            assertEquals("Acme Mail", view.application)
            assertEquals(2.toUByte(), view.numberDigits)
            assertEquals("sign-in", shown(view.purpose))
            assertTrue(view.userVerification in UserVerification.values())
            assertTrue(view.account.isNotEmpty())
            val answer = store.answer(view.id, UserAnswer.Approve(field(sent, "number"), true))
            val verified = portal.call("""{"cmd":"verify","body":${quote(answer.body)}}""")
            assertTrue(verified.contains("\"decision\":\"Approve\""), verified)
            assertFailsWith<AssentException.RequestClosed> { store.openChallenge(field(sent, "payload")) }
        }
    },
    "the notification extension's read-only open writes nothing" to {
        Portal().use { portal ->
            val device = enrolled(portal)
            val before = File(device.path).readBytes()
            val sent = portal.call("""{"cmd":"challenge","digits":null,"purpose":"step_up"}""")
            val peeked = peekChallenge(device.path, Keychain(ByteArray(32)), field(sent, "payload"), null)
            assertEquals(Purpose.STEP_UP, peeked.purpose)
            assertEquals(null, peeked.numberDigits)
            assertTrue(before.contentEquals(File(device.path).readBytes()), "the vault file changed")
            // The app answers it after opening it itself.
            val view = device.store.openChallenge(field(sent, "payload"))
            assertEquals(peeked, view)
            device.store.answer(view.id, UserAnswer.Deny(true, false))
            assertFailsWith<AssentException.RequestClosed> {
                peekChallenge(device.path, Keychain(ByteArray(32)), field(sent, "payload"), null)
            }
            assertFailsWith<AssentException.WrongPassword> {
                peekChallenge(device.path, Keychain(ByteArray(32) { 9 }), field(sent, "payload"), null)
            }
        }
    },
    "eight threads list, add and answer on one store at once" to {
        Portal().use { portal ->
            val device = enrolled(portal)
            val store = device.store
            val payloads = (0 until 16).map { field(portal.call("""{"cmd":"challenge","digits":null}"""), "payload") }
            val errors = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
            val start = java.util.concurrent.CountDownLatch(1)
            val threads = (0 until 8).map { t ->
                Thread {
                    try {
                        start.await()
                        repeat(10) { i ->
                            store.accounts()
                            val b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
                            store.addUri("otpauth://totp/Thread$t:user$i?secret=JBSWY3DPEHPK${b32[t]}${b32[i]}QQ&issuer=Thread$t")
                        }
                        for (payload in payloads.subList(t * 2, t * 2 + 2)) {
                            val view = store.openChallenge(payload)
                            store.answer(view.id, UserAnswer.Approve(null, false))
                        }
                    } catch (e: Throwable) {
                        errors.add(e)
                    }
                }
            }
            threads.forEach { it.start() }
            start.countDown()
            threads.forEach { it.join(60_000) }
            assertTrue(threads.none { it.isAlive }, "a thread is stuck")
            assertEquals(emptyList(), errors.toList())
            assertEquals(1 + 80, store.accounts().size)
            for (payload in payloads) {
                assertFailsWith<AssentException.RequestClosed> { store.openChallenge(payload) }
            }
            store.destroy()
            val reopened = Store.open(device.path, Keychain(ByteArray(32)), device.keystore, null)
            assertEquals(81, reopened.accounts().size, "what the threads wrote is all on disk")
        }
    },
)

fun benchmark() {
    val store = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
    val uris = (0 until 1000).joinToString("\n") { i ->
        val secret = "JBSWY3DPEHPK3PXP" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[i % 32] + "A".repeat(7) +
            (i.toString(2).padStart(16, '0').map { if (it == '1') 'B' else 'C' }.joinToString(""))
        "otpauth://totp/Issuer$i:user$i?secret=$secret&issuer=Issuer$i"
    }
    store.importData(uris.toByteArray(), null)
    val count = store.accounts().size
    repeat(200) { store.accounts() }
    val runs = 200
    val times = LongArray(runs)
    for (r in 0 until runs) {
        val start = System.nanoTime()
        val accounts = store.accounts()
        times[r] = System.nanoTime() - start
        check(accounts.size == count)
    }
    times.sort()
    fun ms(ns: Long) = "%.2f ms".format(ns / 1e6)
    println("benchmark: list $count accounts with codes from Kotlin: median ${ms(times[runs / 2])}, p95 ${ms(times[runs * 95 / 100])}, min ${ms(times[0])} ($runs runs after 200 warm-up)")
}

fun main(args: Array<String>) {
    if (args.contains("--bench")) {
        benchmark()
        return
    }
    var passed = 0
    var failed = 0
    for ((name, test) in tests) {
        try {
            test()
            passed++
            println("ok   $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
        }
    }
    println("kotlin: $passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
