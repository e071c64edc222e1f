#!/usr/bin/env bash
# The Android app's tests that can run without the Android SDK:
# - android-app/presentation (plain Kotlin, no android.*) compiled with the generated bindings
#   by kotlinc, and its JUnit 4 tests run on the JVM against the Rust library, the real portal,
#   the real relay and the mock FCM (tests/push-mocks);
# - every Kotlin file of android-app/app through the real Kotlin parser: kotlinc with no
#   classpath, failing on syntax errors only (Android, AndroidX and Compose are not here, so
#   unresolved references are expected).
# JUnit 4, Hamcrest and Gson (tests only) come from Debian: junit4 libhamcrest-java
# libgoogle-gson-java.
#   scripts/test-android.sh [--bench | NAME-FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/kotlin.sh
for jar in junit4 hamcrest gson; do
  [ -f "/usr/share/java/$jar.jar" ] || { echo "missing /usr/share/java/$jar.jar: apt-get install junit4 libhamcrest-java libgoogle-gson-java" >&2; exit 1; }
done
junit=/usr/share/java/junit4.jar:/usr/share/java/hamcrest.jar
gson=/usr/share/java/gson.jar
runtime="$jna:$kotlin_lib/kotlin-stdlib.jar:$kotlin_lib/kotlinx-coroutines-core-jvm.jar"

bench=false
if [ "${1:-}" = "--bench" ]; then bench=true; shift; fi
if $bench; then
  cargo build -q --release -p authenticator-ffi --lib
  cargo build -q -p authenticator-ffi --examples
  libdir="$PWD/target/release"
else
  cargo build -q -p authenticator-ffi --lib
  cargo build -q -p portal -p push-relay -p push-mocks --bins
  libdir="$PWD/target/debug"
fi

out="$PWD/target/android-tests"
rm -rf "$out" && mkdir -p "$out/tmp"
presentation=android-app/presentation/src
# The module as Gradle builds it: the committed bindings are a source folder of it.
compile_kotlin -nowarn authenticator-ffi/bindings/kotlin/org/assent/core/assent_core.kt \
  $(find "$presentation/main/kotlin" -name '*.kt') \
  -cp "$jna:$kotlin_lib/kotlinx-coroutines-core-jvm.jar" -d "$out/presentation.jar" | tee "$out/compile.log"
[ -f "$out/presentation.jar" ] || { echo "android: presentation did not compile" >&2; exit 1; }

if $bench; then
  compile_kotlin -nowarn android-app/presentation/src/bench/kotlin/*.kt \
    -cp "$out/presentation.jar:$runtime:$gson" -d "$out/bench.jar"
  java -Djava.io.tmpdir="$out/tmp" -Djna.library.path="$libdir" -Dassent.target="$PWD/target/debug" \
    -cp "$out/bench.jar:$out/presentation.jar:$runtime:$gson" org.assent.presentation.bench.BenchKt
  exit 0
fi

compile_kotlin -nowarn $(find "$presentation/test/kotlin" -name '*.kt') \
  -cp "$out/presentation.jar:$runtime:$junit:$gson:$kotlin_lib/kotlin-test.jar" -d "$out/tests.jar" | tee -a "$out/compile.log"
[ -f "$out/tests.jar" ] || { echo "android: the tests did not compile" >&2; exit 1; }
java -Djava.io.tmpdir="$out/tmp" -Djna.library.path="$libdir" -Dassent.root="$PWD" -Dassent.target="$PWD/target/debug" \
  -cp "$out/tests.jar:$out/presentation.jar:$runtime:$junit:$gson:$kotlin_lib/kotlin-test.jar" \
  org.assent.presentation.RunTestsKt "$out/tests.jar" "$@"

# The app module: the real parser over every file, syntax errors only.
app_files=$(find android-app/app/src -name '*.kt' | sort)
if [ -n "$app_files" ]; then
  # shellcheck disable=SC2086
  "$kotlinc" -nowarn $app_files -d "$out/app-parse" >"$out/app-parse.log" 2>&1 || true
  if grep -E "syntax error|error: expecting|Expecting " "$out/app-parse.log" >/dev/null; then
    grep -E "syntax error|error: expecting|Expecting " "$out/app-parse.log" >&2
    echo "android: syntax errors in android-app/app" >&2
    exit 1
  fi
  echo "android: $(echo "$app_files" | wc -l) file(s) of android-app/app parse"
fi
