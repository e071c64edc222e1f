// Runs the JUnit 4 tests of this folder without Gradle (scripts/test-android.sh): every class
// named *Test in the jar given, one line per test, and a closing `N passed, N failed` line.
package org.assent.presentation

import java.util.jar.JarFile
import kotlin.system.exitProcess
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

fun main(args: Array<String>) {
    val jar = args.firstOrNull() ?: error("usage: RunTests TESTS.jar [NAME-FILTER]")
    val filter = args.getOrNull(1)
    val classes = JarFile(jar).use { file ->
        file.entries().asSequence().map { it.name }
            .filter { it.endsWith("Test.class") && '$' !in it }
            .map { Class.forName(it.removeSuffix(".class").replace('/', '.')) }
            .filter { filter == null || filter in it.simpleName }
            .sortedBy { it.name }.toList()
    }
    val core = JUnitCore()
    val failed = mutableSetOf<Description>()
    core.addListener(object : RunListener() {
        override fun testFailure(failure: Failure) {
            failed.add(failure.description)
            println("FAIL ${failure.description.displayName}\n${failure.trace.lines().take(12).joinToString("\n")}")
        }

        override fun testFinished(description: Description) {
            if (description !in failed) println("ok   ${description.displayName}")
        }
    })
    val result = core.run(*classes.toTypedArray())
    println("presentation: ${result.runCount - result.failureCount} passed, ${result.failureCount} failed")
    exitProcess(if (result.wasSuccessful() && result.runCount > 0) 0 else 1)
}
