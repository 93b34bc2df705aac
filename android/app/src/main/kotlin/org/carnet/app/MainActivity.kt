// The one activity. Health data on every screen: FLAG_SECURE blocks
// screenshots and screen recording and blanks the app-switcher preview
// (plus setRecentsScreenshotEnabled(false) on Android 13+). FragmentActivity
// because BiometricPrompt needs one.
package org.carnet.app

import android.os.Build
import android.os.Bundle
import android.view.WindowManager
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.fragment.app.FragmentActivity
import org.carnet.app.ui.CarnetRoot

class MainActivity : FragmentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) setRecentsScreenshotEnabled(false)
        enableEdgeToEdge()
        setContent { CarnetRoot(this) }
    }
}
