// Benchmarks of issue 12 (scripts/test-android.sh --bench, release library), on the JVM:
// - the account list refreshing 1,000 accounts' codes from Kotlin (AccountListModel);
// - the FCM handling path: a data message opened with the core and turned into the
//   notification to post (FcmMessageHandler), with the store open (the app's process alive)
//   and with the store opened first (a process started by the push).
package org.assent.presentation.bench

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.io.File
import java.nio.file.Files
import org.assent.core.DevicePlatform
import org.assent.core.PushAddress
import org.assent.core.Store
import org.assent.core.VaultKeyProvider
import org.assent.presentation.AccountListAction
import org.assent.presentation.AccountListModel
import org.assent.presentation.Cancellable
import org.assent.presentation.Clipboard
import org.assent.presentation.ClipboardGuard
import org.assent.presentation.FcmMessageHandler
import org.assent.presentation.PAYLOAD_KEY
import org.assent.presentation.SystemClock

class ZeroKey : VaultKeyProvider {
    override fun vaultKey() = ByteArray(32)
}

object NoClipboard : Clipboard {
    override fun copySensitive(label: String, text: String) {}

    override fun clearIfStill(text: String) {}
}

fun millis(body: () -> Unit): Double {
    val start = System.nanoTime()
    body()
    return (System.nanoTime() - start) / 1e6
}

fun summary(samples: List<Double>): String {
    val sorted = samples.sorted()
    return "median %.3f ms, p95 %.3f ms (%d runs)".format(
        sorted[sorted.size / 2], sorted[(sorted.size * 0.95).toInt()], sorted.size,
    )
}

/** The Rust portal side (authenticator-ffi's examples/test_portal) over its pipe. */
class PortalSide(target: String) : AutoCloseable {
    private val process = ProcessBuilder("$target/examples/test_portal").start()
    private val input = process.outputStream.bufferedWriter()
    private val output = process.inputStream.bufferedReader()

    fun call(command: JsonObject): JsonObject {
        input.write(command.toString() + "\n")
        input.flush()
        return JsonParser.parseString(output.readLine() ?: "{}").asJsonObject
    }

    fun call(vararg fields: Pair<String, Any>): JsonObject = call(
        JsonObject().apply {
            for ((k, v) in fields) if (v is Number) addProperty(k, v) else addProperty(k, v.toString())
        },
    )

    override fun close() {
        input.close()
        process.waitFor()
    }
}

fun main() {
    val target = System.getProperty("assent.target") ?: error("set -Dassent.target")
    val dir = Files.createTempDirectory("assent-android-bench").toFile()

    // 1. 1,000 accounts.
    val listVault = File(dir, "list.json").path
    val store = Store.open(listVault, ZeroKey(), null, null)
    val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    val uris = (0 until 1000).joinToString("\n") { i ->
        var n = i
        val digits = StringBuilder()
        repeat(8) { digits.append(alphabet[n % 32]); n /= 32 }
        "otpauth://totp/Issuer$i:user$i@example.com?secret=${digits}JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Issuer$i"
    }
    val report = store.importData(uris.toByteArray(), null)
    val list = AccountListModel(store, ClipboardGuard(NoClipboard) { _, _ -> Cancellable {} })
    repeat(2000) { list.onAction(AccountListAction.Refresh) } // JIT warm-up
    val refresh = (0 until 500).map { millis { list.onAction(AccountListAction.Refresh) } }
    println("list refresh, ${list.state.value.rows.size} accounts (${report.added} imported): ${summary(refresh)}")
    repeat(200) { store.codeSheet() }
    println("Store.codeSheet() alone: ${summary((0 until 500).map { millis { store.codeSheet() } })}")
    repeat(50) { store.accounts() }
    println("Store.accounts() alone: ${summary((0 until 200).map { millis { store.accounts() } })}")

    // 2. The FCM path: a phone with 1,000 accounts and one push enrollment.
    val pushVault = File(dir, "push.json").path
    val phone = Store.open(pushVault, ZeroKey(), null, null)
    phone.importData(uris.toByteArray(), null)
    val payloads = PortalSide(target).use { portal ->
        val qr = portal.call("cmd" to "qr")["qr"].asString
        val enrollment = phone.enroll(qr, DevicePlatform.ANDROID, "bench", PushAddress.Fcm("fcm-bench"), false)
        val registered = portal.call("cmd" to "register", "body" to enrollment.request.body)
        val activation = phone.activate(enrollment.deviceId, registered["response"].asString)
        portal.call("cmd" to "verify", "body" to activation.body)
        (0 until 700).map { portal.call("cmd" to "challenge", "digits" to 2)["payload"].asString }
    }
    phone.close()
    val warm = Store.open(pushVault, ZeroKey(), null, null)
    val title = FcmMessageHandler.notification(mapOf(PAYLOAD_KEY to payloads[0]), warm, SystemClock).title
    for (p in payloads.subList(1, 200)) FcmMessageHandler.notification(mapOf(PAYLOAD_KEY to p), warm, SystemClock)
    val opened = payloads.subList(200, 400).map { p ->
        millis { FcmMessageHandler.notification(mapOf(PAYLOAD_KEY to p), warm, SystemClock) }
    }
    println("FCM path, store open (openChallenge + notification): ${summary(opened)}; $title")
    warm.close()
    val cold = payloads.subList(400, 700).map { p ->
        millis {
            Store.open(pushVault, ZeroKey(), null, null).use {
                FcmMessageHandler.notification(mapOf(PAYLOAD_KEY to p), it, SystemClock)
            }
        }
    }
    println("FCM path with Store.open first (1,000 accounts in the vault): ${summary(cold.drop(100))}")
    dir.deleteRecursively()
}
