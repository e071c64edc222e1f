// The one place exceptions from the core and the transport become sentences for the user.
package org.assent.presentation

import org.assent.core.AssentException

/** A sentence to show for `error`: the core's and the portal's messages are sentences already;
 *  anything else is not shown as it is (it may hold internals). */
fun userMessage(error: Throwable): String = when (error) {
    is AssentException -> error.message ?: GENERIC
    is PortalFailure -> error.userMessage
    else -> GENERIC
}

internal const val GENERIC = "Something went wrong."
