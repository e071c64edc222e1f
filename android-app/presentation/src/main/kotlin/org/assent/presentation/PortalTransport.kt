// Sending the core's PortalRequests: the core signs, the app's HTTP stack carries.
package org.assent.presentation

import java.io.IOException
import java.net.HttpURLConnection
import java.net.URI
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.assent.core.ErrorCode
import org.assent.core.PortalRequest
import org.assent.core.portalRefusal

/** Why a request to the portal did not succeed, by what the user can do about it. */
sealed class PortalFailure(val userMessage: String) : Exception(userMessage) {
    /** The portal refused it: `code` is the protocol's (null for a body that is not the
     *  portal's error JSON), `status` the HTTP status. The core reads the body. */
    class Refused(val status: Int, val code: ErrorCode?, message: String) : PortalFailure(message)

    /** No answer: offline, portal down, timeout. */
    class Unreachable : PortalFailure(
        "The sign-in service cannot be reached. Check the connection and try again.",
    )

    /** True when the request's challenge expired at the portal. */
    val isExpiry: Boolean get() = this is Refused && code == ErrorCode.EXPIRED

    companion object {
        /** The portal's refusal, read by the core. */
        fun refused(status: Int, body: String): Refused {
            val refusal = portalRefusal(status.toUShort(), body)
            return Refused(status, refusal.code, refusal.message)
        }
    }
}

/** Sends a PortalRequest and returns the response body (empty for 204); throws
 *  [PortalFailure]. */
fun interface PortalTransport {
    suspend fun send(request: PortalRequest): String
}

/**
 * The transport over `HttpURLConnection`, which Android and the JVM both have (the app's, and
 * the one the JVM tests send through to the real portal). Runs on Dispatchers.IO.
 */
class HttpPortalTransport(private val timeoutMillis: Int = 20_000) : PortalTransport {
    override suspend fun send(request: PortalRequest): String = withContext(Dispatchers.IO) {
        val (status, body) = try {
            exchange(request)
        } catch (e: IOException) {
            throw PortalFailure.Unreachable()
        } catch (e: IllegalArgumentException) {
            throw PortalFailure.Unreachable()
        }
        if (status !in 200..299) throw PortalFailure.refused(status, body)
        body
    }

    private fun exchange(request: PortalRequest): Pair<Int, String> {
        val connection = URI(request.url).toURL().openConnection() as HttpURLConnection
        try {
            connection.requestMethod = request.method
            connection.connectTimeout = timeoutMillis
            connection.readTimeout = timeoutMillis
            connection.instanceFollowRedirects = false
            connection.doOutput = true
            connection.setRequestProperty("Content-Type", request.contentType)
            connection.setRequestProperty("Accept", "application/json")
            connection.outputStream.use { it.write(request.body.toByteArray()) }
            val status = connection.responseCode
            val stream = if (status in 200..299) connection.inputStream else connection.errorStream
            val body = stream?.use { it.readBytes().decodeToString() } ?: ""
            return status to body
        } finally {
            connection.disconnect()
        }
    }
}
