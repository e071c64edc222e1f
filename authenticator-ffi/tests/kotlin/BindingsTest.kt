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
    val keys = mutableMapOf<String, PrivateKey>()
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
        store.destroy()
        val again = Store.open(path, Keychain(key), null, clock)
        assertEquals("RFC 6238", again.accounts().single().issuer)
        assertTrue(!File(path).readText().contains("GEZDGNBV"), "the secret is stored in clear")
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
        val path = tempVault()
        Store.open(path, Keychain(ByteArray(32) { 1 }), null, null).destroy()
        val wrong = assertFailsWith<AssentException.WrongPassword> { Store.open(path, Keychain(ByteArray(32)), null, null) }
        assertTrue(wrong.message!!.contains("wrong passphrase or key"), wrong.message)
        assertFailsWith<AssentException.PlatformKey> { Store.open(path, Keychain(ByteArray(3)), null, null) }
        val directory = Files.createTempDirectory("not-a-vault").toString()
        assertFailsWith<AssentException.Storage> { Store.open(directory, Keychain(ByteArray(32)), null, null) }
        val encrypted = File(root, "authenticator-core/tests/fixtures/import/aegis_encrypted.json").readBytes()
        val importer = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        val needs = assertFailsWith<AssentException.PasswordRequired> { importer.importData(encrypted, null) }
        assertTrue(needs.message!!.contains("password"), needs.message)
        assertFailsWith<AssentException.WrongPassword> { importer.importData(encrypted, "nope") }
        assertTrue(importer.importData(encrypted, "test").added > 0u)
        val store = Store.open(tempVault(), Keychain(ByteArray(32)), null, null)
        // With no push enrollment, nothing can be for this device: dismiss it.
        val closed = assertFailsWith<AssentException.RequestClosed> { store.openChallenge("not.a.challenge") }
        assertTrue(closed.message!!.contains("no push account"), closed.message)
        assertFailsWith<AssentException.RequestClosed> {
            store.answer("unknown", UserAnswer.Approve(null, false))
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
            val answer = store.answer(view.id, UserAnswer.Approve(field(sent, "number"), true))
            val verified = portal.call("""{"cmd":"verify","body":${quote(answer.body)}}""")
            assertTrue(verified.contains("\"decision\":\"Approve\""), verified)
            assertFailsWith<AssentException.RequestClosed> { store.openChallenge(field(sent, "payload")) }
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
