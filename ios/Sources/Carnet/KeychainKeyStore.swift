// The core's KeyStore callback on the iOS Keychain: a random AES-256 key,
// stored as a generic password readable only while the phone is unlocked and
// only on this device (kSecAttrAccessibleWhenUnlockedThisDeviceOnly: not in
// backups, not migrated to a new phone), wraps the vault's data key with
// AES-GCM. Format: version byte 1, then CryptoKit's combined nonce (12) ||
// ciphertext || tag, the same as Android's (KeyFormats.packWrapped).
import CryptoKit
import Foundation
import Security

public final class KeychainKeyStore: KeyStore, @unchecked Sendable {
    private let service: String
    private let account = "vault-wrap-key"
    private static let version: UInt8 = 1

    public init(service: String = "org.carnet.vault") {
        self.service = service
    }

    public func wrapKey(key: Data) throws -> Data {
        let wrapping = try wrappingKey(create: true)
        do {
            let sealed = try AES.GCM.seal(key, using: wrapping)
            guard let combined = sealed.combined else { throw KeyStoreError.Failed(reason: "seal") }
            return Data([Self.version]) + combined
        } catch let error as KeyStoreError {
            throw error
        } catch {
            throw KeyStoreError.Failed(reason: "seal")
        }
    }

    public func unwrapKey(wrapped: Data) throws -> Data {
        guard wrapped.first == Self.version, wrapped.count > 1 + 12 + 16 else {
            throw KeyStoreError.Failed(reason: "unknown wrap format")
        }
        let wrapping = try wrappingKey(create: false)
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.dropFirst())
            return try AES.GCM.open(box, using: wrapping)
        } catch {
            // Not this key's ciphertext: the key that wrapped it is gone.
            throw KeyStoreError.KeyInvalidated
        }
    }

    /// Deletes the wrapping key (logout); the vault it protected is unreadable after.
    public func delete() {
        SecItemDelete(baseQuery() as CFDictionary)
    }

    private func baseQuery() -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }

    private func wrappingKey(create: Bool) throws -> SymmetricKey {
        var query = baseQuery()
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, data.count == 32 else { throw KeyStoreError.KeyInvalidated }
            return SymmetricKey(data: data)
        case errSecInteractionNotAllowed:
            // Before the first unlock, or while locked: wait, never wipe.
            throw KeyStoreError.Locked
        case errSecItemNotFound:
            guard create else { throw KeyStoreError.KeyInvalidated }
            return try makeKey()
        default:
            throw KeyStoreError.Failed(reason: "keychain \(status)")
        }
    }

    private func makeKey() throws -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        var attributes = baseQuery()
        attributes[kSecAttrAccessible as String] = kSecAttrAccessibleWhenUnlockedThisDeviceOnly
        attributes[kSecValueData as String] = key.withUnsafeBytes { Data($0) }
        let status = SecItemAdd(attributes as CFDictionary, nil)
        switch status {
        case errSecSuccess:
            return key
        case errSecInteractionNotAllowed:
            throw KeyStoreError.Locked
        default:
            throw KeyStoreError.Failed(reason: "keychain add \(status)")
        }
    }
}
