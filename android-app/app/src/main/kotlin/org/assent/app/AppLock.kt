// App lock: whether the content is hidden behind the unlock screen.
package org.assent.app

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * Locked when the setting is on and the app went to the background since it was last
 * unlocked (and at a cold start). Leaving for a screen the app opened itself (a file picker,
 * the screen-lock check on Android 8) does not count: [leaving] and [returned] bracket those.
 */
class AppLock(private val isOn: () -> Boolean) {
    private val mutableLocked = MutableStateFlow(isOn())
    val locked: StateFlow<Boolean> = mutableLocked.asStateFlow()

    @Volatile
    private var away = false

    /** Before the app opens another screen for a result. */
    fun leaving() {
        away = true
    }

    /** The result came back (or the prompt ended). */
    fun returned() {
        away = false
    }

    /** The activity stopped; `changingConfigurations` when it is only being recreated. */
    fun stopped(changingConfigurations: Boolean) {
        if (!changingConfigurations && !away && isOn()) mutableLocked.value = true
    }

    /** The user was verified, or the setting was turned off. */
    fun unlock() {
        mutableLocked.value = false
    }
}
