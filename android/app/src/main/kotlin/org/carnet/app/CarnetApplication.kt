// Process-wide: the one Carnet handle (opened on first use with the Android
// Keystore callbacks) and the background sync schedule.
package org.carnet.app

import android.app.Application
import android.os.Build
import java.io.File
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.carnet.app.keys.AndroidDeviceSigner
import org.carnet.app.keys.AndroidKeyStoreVault
import org.carnet.app.sync.SyncWorker
import org.carnet.core.Carnet
import org.carnet.core.CarnetConfig
import org.carnet.shell.CarnetPorts

class CarnetApplication : Application() {
    private val lock = Mutex()
    private var carnet: Carnet? = null

    override fun onCreate() {
        super.onCreate()
        SyncWorker.schedule(this)
    }

    /** The open handle, opened on first use. Throws the core's errors (VaultLocked: the phone is locked). */
    suspend fun carnet(): Carnet = lock.withLock {
        carnet ?: open().also { carnet = it }
    }

    suspend fun ports(): CarnetPorts = CarnetPorts(carnet())

    /** After logout the handle is closed: forget it and the device key; the next use opens a fresh vault. */
    suspend fun closed() = lock.withLock {
        carnet?.close()
        carnet = null
        AndroidDeviceSigner(this).delete()
    }

    private suspend fun open(): Carnet {
        // noBackupFilesDir: never in backups or device transfers.
        val dataDir = File(noBackupFilesDir, "carnet")
        val handle = Carnet.openWithKeyStore(
            CarnetConfig(
                dataDir = dataDir.path,
                serverUrl = BuildConfig.SERVER_URL,
                rootCaPem = privateCa(),
                usePublicRoots = !BuildConfig.DEBUG,
                spkiPins = listOf(),
            ),
            AndroidKeyStoreVault(this),
            AndroidDeviceSigner(this),
        )
        // The core reports where the vault is: it must be under noBackupFilesDir.
        val location = handle.vaultLocation()
        check(location == null || File(location).canonicalPath.startsWith(noBackupFilesDir.canonicalPath)) {
            "the vault is outside noBackupFilesDir"
        }
        return handle
    }

    /** The reference backend's CA for debug builds (assets/insurer-ca.pem, see android/README.md). */
    private fun privateCa(): String? = try {
        assets.open("insurer-ca.pem").bufferedReader().use { it.readText() }
    } catch (e: java.io.IOException) {
        null
    }

    val deviceName: String get() = Build.MODEL ?: "Android"
}
