// Adding an account: a scanned QR (otpauth, or the portal's one QR that also enrolls push), a
// picture of a QR, or the key typed by hand.
package org.assent.presentation

import java.net.URLEncoder
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.assent.core.AssentException
import org.assent.core.DevicePlatform
import org.assent.core.Enrollment
import org.assent.core.ImportReport
import org.assent.core.PushAddress
import org.assent.core.Store
import org.assent.core.readQrFrame

/** The fields of the manual entry form. */
enum class AccountField { ISSUER, NAME, SECRET, KIND, ALGORITHM, DIGITS, PERIOD, COUNTER }

data class ManualEntry(
    val issuer: String = "",
    val name: String = "",
    val secret: String = "",
    /** `totp`, `hotp` or `steam`. */
    val kind: String = "totp",
    val algorithm: String = "SHA1",
    val digits: String = "6",
    val period: String = "30",
    val counter: String = "0",
) {
    /** The otpauth URI the core validates. */
    internal val uri: String
        get() {
            // The String overload: the Charset one is Android 13+ only.
            fun encode(text: String) = URLEncoder.encode(text, "UTF-8").replace("+", "%20")
            val label = if (issuer.isEmpty()) encode(name) else "${encode(issuer)}:${encode(name)}"
            val secret = secret.filter { !it.isWhitespace() && it != '-' }.uppercase()
            val query = mutableListOf(
                "secret=${encode(secret)}", "algorithm=${encode(algorithm)}", "digits=${encode(digits)}",
            )
            if (issuer.isNotEmpty()) query.add("issuer=${encode(issuer)}")
            query.add(if (kind == "hotp") "counter=${encode(counter)}" else "period=${encode(period)}")
            return "otpauth://${encode(kind)}/$label?${query.joinToString("&")}"
        }

    internal fun with(field: AccountField, value: String) = when (field) {
        AccountField.ISSUER -> copy(issuer = value)
        AccountField.NAME -> copy(name = value)
        AccountField.SECRET -> copy(secret = value)
        AccountField.KIND -> copy(kind = value)
        AccountField.ALGORITHM -> copy(algorithm = value)
        AccountField.DIGITS -> copy(digits = value)
        AccountField.PERIOD -> copy(period = value)
        AccountField.COUNTER -> copy(counter = value)
    }
}

sealed interface AddPhase {
    data object Editing : AddPhase

    data object Working : AddPhase

    /** An account was added. */
    data class Added(val accountId: String) : AddPhase

    /** A picture or export file was imported (`AddAccountState.imported` says what). */
    data object Imported : AddPhase

    /** The one QR was enrolled and the portal verified the device: the check mark. */
    data class Enrolled(val accountId: String, val deviceId: String) : AddPhase

    /** An encrypted export needs its password. */
    data object NeedsPassword : AddPhase
}

data class AddAccountState(
    val phase: AddPhase = AddPhase.Editing,
    val entry: ManualEntry = ManualEntry(),
    /** The core's reason, next to the field it is about. */
    val fieldErrors: Map<AccountField, String> = emptyMap(),
    /** A sentence about the whole thing (a bad QR, a refused enrollment). */
    val error: String? = null,
    val imported: ImportReport? = null,
)

sealed interface AddAccountAction {
    data class Set(val field: AccountField, val value: String) : AddAccountAction
}

sealed interface AddAccountEffect {
    /** The camera read a QR (its text). */
    data class Scanned(val text: String) : AddAccountEffect

    /** A picture from the Photo Picker, or an export file; `password` for encrypted ones. */
    class Picked(val data: ByteArray, val password: String?) : AddAccountEffect

    /** Save the manual entry. */
    data object SaveEntry : AddAccountEffect
}

/** Registers and activates a push enrollment over the transport. */
class Enroller(
    private val store: Store,
    private val transport: PortalTransport,
    private val deviceName: String,
    private val hardwareKey: Boolean,
) {
    /** The one QR: register, then activate; returns once the portal took the activation. */
    suspend fun enroll(qr: String, push: PushAddress): Enrollment {
        val enrollment = store.enroll(qr, DevicePlatform.ANDROID, deviceName, push, hardwareKey)
        val response = transport.send(enrollment.request)
        val activation = store.activate(enrollment.deviceId, response)
        transport.send(activation)
        return enrollment
    }
}

/**
 * CameraX frames to QR texts through the core (no ML Kit, no Play services). `frame` takes the
 * Y plane of an `ImageProxy`; the first text found is returned, null while none is in view.
 */
object FrameScanner {
    fun scan(width: Int, height: Int, rowStride: Int, luma: ByteArray): String? = try {
        readQrFrame(width.toUInt(), height.toUInt(), rowStride.toUInt(), luma).firstOrNull()
    } catch (e: AssentException) {
        null
    }
}

/** The one place the add screen's state changes. */
class AddAccountModel(
    private val store: Store,
    private val enroller: Enroller?,
    private val permission: NotificationPermission?,
    private val pushAddress: () -> PushAddress?,
) {
    private val mutableState = MutableStateFlow(AddAccountState())
    val state: StateFlow<AddAccountState> = mutableState.asStateFlow()

    fun onAction(action: AddAccountAction) {
        when (action) {
            is AddAccountAction.Set -> mutableState.update {
                it.copy(entry = it.entry.with(action.field, action.value), fieldErrors = it.fieldErrors - action.field)
            }
        }
    }

    suspend fun perform(effect: AddAccountEffect) {
        mutableState.update { it.copy(error = null) }
        when (effect) {
            is AddAccountEffect.Scanned -> {
                val text = effect.text.trim()
                val enroller = enroller
                if (text.contains("assent_token=") && enroller != null) {
                    enroll(text, enroller)
                } else {
                    add(manual = false) { store.addUri(text) }
                }
            }
            is AddAccountEffect.Picked -> pick(effect.data, effect.password)
            AddAccountEffect.SaveEntry -> saveEntry()
        }
    }

    private fun pick(data: ByteArray, password: String?) {
        try {
            val report = store.importData(data, password)
            mutableState.update { it.copy(imported = report, phase = AddPhase.Imported) }
        } catch (e: AssentException.PasswordRequired) {
            mutableState.update { it.copy(phase = AddPhase.NeedsPassword) }
        } catch (e: AssentException.WrongPassword) {
            mutableState.update { it.copy(phase = AddPhase.NeedsPassword, error = userMessage(e)) }
        } catch (e: Exception) {
            mutableState.update { it.copy(error = userMessage(e)) }
        }
    }

    private fun saveEntry() {
        val entry = state.value.entry
        val errors = buildMap {
            if (entry.name.isBlank()) put(AccountField.NAME, "Enter the account name.")
            if (entry.secret.isBlank()) put(AccountField.SECRET, "Enter the key the service showed.")
        }
        mutableState.update { it.copy(fieldErrors = errors) }
        if (errors.isNotEmpty()) return
        add(manual = true) { store.addUri(entry.uri) }
    }

    /** `manual`: an error about a field goes next to it; else (a scanned QR) it is one sentence. */
    private fun add(manual: Boolean, body: () -> String) {
        try {
            val id = body()
            mutableState.update { it.copy(phase = AddPhase.Added(id)) }
        } catch (e: Exception) {
            val message = userMessage(e)
            val (field, reason) = fieldOf(message)
            mutableState.update {
                if (manual && field != null) {
                    it.copy(phase = AddPhase.Editing, fieldErrors = it.fieldErrors + (field to reason))
                } else {
                    it.copy(phase = AddPhase.Editing, error = message)
                }
            }
        }
    }

    private suspend fun enroll(qr: String, enroller: Enroller) {
        val push = pushAddress()
        if (push == null) {
            mutableState.update { it.copy(error = "Notifications are not set up yet. Try again in a moment.") }
            return
        }
        mutableState.update { it.copy(phase = AddPhase.Working) }
        try {
            val enrollment = enroller.enroll(qr, push)
            mutableState.update { it.copy(phase = AddPhase.Enrolled(enrollment.accountId, enrollment.deviceId)) }
            // Asked now, when the user sees why: sign-in requests arrive as notifications.
            permission?.request()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            mutableState.update { it.copy(phase = AddPhase.Editing, error = userMessage(e)) }
        }
    }

    internal companion object {
        /** The field a core message is about: the core writes `Not a valid account: FIELD:
         *  reason.` Returns the field and the reason as a sentence. */
        fun fieldOf(message: String): Pair<AccountField?, String> {
            val prefix = "Not a valid account: "
            if (!message.startsWith(prefix)) return null to message
            val rest = message.removePrefix(prefix)
            val colon = rest.indexOf(':')
            if (colon < 0) return null to message
            val field = when (rest.substring(0, colon)) {
                "secret" -> AccountField.SECRET
                "label" -> AccountField.NAME
                "issuer" -> AccountField.ISSUER
                "type" -> AccountField.KIND
                "algorithm" -> AccountField.ALGORITHM
                "digits" -> AccountField.DIGITS
                "period" -> AccountField.PERIOD
                "counter" -> AccountField.COUNTER
                else -> null
            } ?: return null to message
            val reason = rest.substring(colon + 1).trim().replaceFirstChar { it.uppercase() }
            return field to reason
        }
    }
}
