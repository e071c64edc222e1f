// The add screen's ViewModel over AddAccountModel.
package org.assent.app.ui.add

import android.net.Uri
import androidx.annotation.StringRes
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.assent.app.AppEnvironment
import org.assent.app.R
import org.assent.presentation.AddAccountAction
import org.assent.presentation.AddAccountEffect
import org.assent.presentation.AddAccountModel
import org.assent.presentation.AddAccountState

/**
 * Typing goes to the model at once (on the main thread); effects run on Dispatchers.IO, since
 * an enrollment creates a Keystore key, writes the vault and talks to the portal, and an import
 * reads a picture. One effect at a time: a second tap while one runs is ignored.
 */
class AddAccountViewModel(private val environment: AppEnvironment) : ViewModel() {
    private val model = AddAccountModel(
        environment.store, environment.enroller(), environment.notificationPermission,
    ) { environment.push.address }
    val state: StateFlow<AddAccountState> = model.state

    private val mutableFileError = MutableStateFlow<Int?>(null)

    /** A picture that could not be read (the model never saw it). */
    val fileError: StateFlow<Int?> = mutableFileError.asStateFlow()

    /** The picture or export being imported, kept for its password. */
    private var picked: ByteArray? = null
    private var running: Job? = null

    fun onAction(action: AddAccountAction) = model.onAction(action)

    fun scanned(text: String) = perform(AddAccountEffect.Scanned(text))

    fun save() = perform(AddAccountEffect.SaveEntry)

    /** A picture from the Photo Picker. */
    fun picked(uri: Uri) = launchOnce {
        mutableFileError.value = null
        val data = try {
            environment.documents.read(uri)
        } catch (e: Exception) {
            fail(R.string.file_unreadable)
            return@launchOnce
        }
        picked = data
        model.perform(AddAccountEffect.Picked(data, null))
    }

    /** The password of an encrypted export. */
    fun password(password: String) {
        val data = picked ?: return
        perform(AddAccountEffect.Picked(data, password))
    }

    private fun fail(@StringRes message: Int) {
        mutableFileError.value = message
    }

    private fun perform(effect: AddAccountEffect) = launchOnce { model.perform(effect) }

    private fun launchOnce(body: suspend () -> Unit) {
        if (running?.isActive == true) return
        running = viewModelScope.launch(Dispatchers.IO) { body() }
    }
}
