// Delayed actions on the main thread, for the clipboard's 30 s timer.
package org.assent.app.platform

import android.os.Handler
import android.os.Looper
import org.assent.presentation.Cancellable
import org.assent.presentation.Scheduler

/** `Scheduler` over a main-thread Handler. Its clock is uptime: a phone asleep in between
 *  clears the clipboard once it wakes. */
class MainThreadScheduler : Scheduler {
    private val handler = Handler(Looper.getMainLooper())

    override fun after(delayMillis: Long, action: () -> Unit): Cancellable {
        val runnable = Runnable { action() }
        handler.postDelayed(runnable, delayMillis)
        return Cancellable { handler.removeCallbacks(runnable) }
    }
}
