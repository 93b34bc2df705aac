// Background sync with WorkManager: hourly when there is network, with
// exponential backoff on retry. The decision (done / retry / the member must
// act) is the shared logic's BackgroundSync; this only maps it.
package org.carnet.app.sync

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit
import org.carnet.app.CarnetApplication
import org.carnet.core.CarnetException
import org.carnet.shell.BackgroundSync
import org.carnet.shell.SyncOutcome

class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val app = applicationContext as CarnetApplication
        val carnet = try {
            app.carnet()
        } catch (e: CarnetException.VaultLocked) {
            return Result.retry() // the phone is locked: the vault key is unusable until unlock
        } catch (e: CarnetException) {
            return Result.failure()
        }
        // Requests join here once their sync is in the bindings (BackgroundSync's requests port).
        return when (BackgroundSync(sync = carnet::sync).run()) {
            is SyncOutcome.Done -> Result.success()
            is SyncOutcome.RetryLater -> Result.retry()
            is SyncOutcome.NeedsMember -> Result.failure()
        }
    }

    companion object {
        private const val NAME = "carnet-sync"

        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(1, TimeUnit.HOURS)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 5, TimeUnit.MINUTES)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(NAME, ExistingPeriodicWorkPolicy.KEEP, request)
        }
    }
}
