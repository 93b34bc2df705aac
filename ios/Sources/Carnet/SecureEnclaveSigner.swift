// The core's DeviceSigner callback on the Secure Enclave: a P-256 key made
// inside it, never extractable, usable only while the phone is unlocked, on
// this device only. The core wants (bindings/src/foreign.rs) the public key
// as SEC1 uncompressed, 65 bytes (what SecKeyCopyExternalRepresentation
// gives for an EC public key), and ASN.1 DER signatures (what
// ecdsaSignatureMessageX962SHA256 gives), so no conversion is needed.
// The simulator has no Secure Enclave: there the key is a Keychain key.
import CryptoKit
import Foundation
import Security

public final class SecureEnclaveSigner: DeviceSigner, @unchecked Sendable {
    private let tag: Data

    public init(tag: String = "org.carnet.device-key") {
        self.tag = Data(tag.utf8)
    }

    public func publicKey() throws -> Data {
        let key = try privateKey(create: true)
        guard let publicKey = SecKeyCopyPublicKey(key) else { throw DeviceSignerError.Failed(reason: "no public key") }
        var error: Unmanaged<CFError>?
        guard let data = SecKeyCopyExternalRepresentation(publicKey, &error) as Data? else {
            throw DeviceSignerError.Failed(reason: "export public key")
        }
        guard data.count == 65, data.first == 0x04 else { throw DeviceSignerError.Failed(reason: "not SEC1 P-256") }
        return data
    }

    public func sign(message: Data) throws -> Data {
        // Signing with a fresh key would not match the certificate: a missing key is lost.
        let key = try privateKey(create: false)
        var error: Unmanaged<CFError>?
        guard let signature = SecKeyCreateSignature(key, .ecdsaSignatureMessageX962SHA256, message as CFData, &error) as Data? else {
            let code = (error?.takeRetainedValue()).map { CFErrorGetCode($0) } ?? 0
            if code == Int(errSecInteractionNotAllowed) || code == Int(errSecAuthFailed) {
                throw DeviceSignerError.Locked
            }
            throw DeviceSignerError.Failed(reason: "sign \(code)")
        }
        return signature
    }

    /// Deletes the key (logout, or this device revoked).
    public func delete() {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag,
        ]
        SecItemDelete(query as CFDictionary)
    }

    private func privateKey(create: Bool) throws -> SecKey {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            // swiftlint:disable:next force_cast
            return item as! SecKey
        case errSecInteractionNotAllowed:
            throw DeviceSignerError.Locked
        case errSecItemNotFound:
            guard create else { throw DeviceSignerError.KeyLost }
            return try makeKey()
        default:
            throw DeviceSignerError.Failed(reason: "keychain \(status)")
        }
    }

    private func makeKey() throws -> SecKey {
        var flags: SecAccessControlCreateFlags = []
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
        ]
        if SecureEnclave.isAvailable {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
            flags.insert(.privateKeyUsage)
        }
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(nil, kSecAttrAccessibleWhenUnlockedThisDeviceOnly, flags, &error) else {
            throw DeviceSignerError.Failed(reason: "access control")
        }
        attributes[kSecPrivateKeyAttrs as String] = [
            kSecAttrIsPermanent as String: true,
            kSecAttrApplicationTag as String: tag,
            kSecAttrAccessControl as String: access,
        ] as [String: Any]
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw DeviceSignerError.Failed(reason: "create key")
        }
        return key
    }
}
