// The camera preview that reads QR codes: CameraX frames to the core's QR reader.
package org.assent.app.ui.add

import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.LocalLifecycleOwner
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import org.assent.presentation.FrameScanner

/** Shows the back camera and calls `onFound` (on the main thread) with the first QR text read.
 *  Needs the CAMERA permission. No ML Kit and no Play services: the core reads the frames. */
@Composable
fun QrScanner(onFound: (String) -> Unit, modifier: Modifier = Modifier) {
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    val found by rememberUpdatedState(onFound)
    val previewView = remember { PreviewView(context) }
    AndroidView(factory = { previewView }, modifier = modifier)
    DisposableEffect(lifecycleOwner) {
        val main = ContextCompat.getMainExecutor(context)
        val analysisThread = Executors.newSingleThreadExecutor()
        val providerFuture = ProcessCameraProvider.getInstance(context)
        var disposed = false
        providerFuture.addListener({
            // The scanner may have left the screen before the camera was ready.
            if (disposed) return@addListener
            val provider = providerFuture.get()
            val preview = Preview.Builder().build()
            preview.setSurfaceProvider(previewView.surfaceProvider)
            val analysis = ImageAnalysis.Builder()
                // A frame the reader is still busy with makes the newer ones wait; only the last is kept.
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .build()
            analysis.setAnalyzer(analysisThread, QrFrameAnalyzer(main) { text -> found(text) })
            provider.unbindAll()
            provider.bindToLifecycle(lifecycleOwner, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        }, main)
        onDispose {
            disposed = true
            if (providerFuture.isDone) providerFuture.get().unbindAll()
            analysisThread.shutdown()
        }
    }
}

/** One frame at a time: its Y (luminance) plane, with the row stride the camera pads rows
 *  to, is all the core's reader needs. Stops after the first text. */
private class QrFrameAnalyzer(
    private val main: Executor,
    private val onFound: (String) -> Unit,
) : ImageAnalysis.Analyzer {
    @Volatile
    private var done = false

    override fun analyze(image: ImageProxy) {
        image.use {
            if (done) return
            val plane = image.planes[0]
            val buffer = plane.buffer
            buffer.rewind()
            val luma = ByteArray(buffer.remaining())
            buffer.get(luma)
            val text = FrameScanner.scan(image.width, image.height, plane.rowStride, luma) ?: return
            done = true
            main.execute { onFound(text) }
        }
    }
}
