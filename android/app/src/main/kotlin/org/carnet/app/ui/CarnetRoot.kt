// Navigation: sign-in until this device is enrolled, then four tabs.
package org.carnet.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.viewmodel.compose.viewModel
import org.carnet.app.R
import org.carnet.shell.SignInStep

enum class Tab(val label: Int) { QR(R.string.nav_qr), TOKENS(R.string.nav_tokens), REQUESTS(R.string.nav_requests), ACCOUNT(R.string.nav_account) }

@Composable
fun CarnetRoot(activity: FragmentActivity) {
    val vm: ShellViewModel = viewModel()
    MaterialTheme {
        val session = vm.session
        val problem = vm.openProblem
        when {
            problem != null -> Column(Modifier.padding(24.dp)) {
                Text(text(problem.message))
                Button(onClick = { vm.open() }) { Text(stringResource(R.string.action_retry)) }
            }
            session == null -> Unit
            else -> {
                val signIn by session.signIn.state.collectAsState()
                if (signIn.step != SignInStep.DONE) {
                    SignInScreen(session.signIn, vm)
                } else {
                    var tab by rememberSaveable { mutableStateOf(Tab.QR) }
                    Scaffold(bottomBar = {
                        NavigationBar {
                            Tab.entries.forEach { t ->
                                NavigationBarItem(selected = t == tab, onClick = { tab = t }, icon = {}, label = { Text(stringResource(t.label)) })
                            }
                        }
                    }) { padding ->
                        Column(Modifier.padding(padding)) {
                            when (tab) {
                                Tab.QR -> QrScreen(session.qr, vm, activity)
                                Tab.TOKENS -> TokenScreen(session.tokens, vm)
                                Tab.REQUESTS -> RequestsScreen(session, vm)
                                Tab.ACCOUNT -> AccountScreen(session.account, vm)
                            }
                        }
                    }
                }
            }
        }
    }
}
