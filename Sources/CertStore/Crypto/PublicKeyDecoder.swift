import COpenSSL

/// Decodes SubjectPublicKeyInfo DER into keys with decoder contexts built once per key type and reused.
///
/// `d2i_X509` in OpenSSL 3.0 decodes the certificate's public key with a decoder context it builds for
/// that one certificate, walking every decoder and key manager under process-wide locks: measured here, that
/// was 60% of parsing a certificate and most of the lock contention between parsing threads. A listing parses
/// certificates in a library context that has no decoders (`Certificate(inventoryDER:)`) and decodes the key
/// with this decoder instead — the same decoders, asked the same way (input "DER", structure
/// "SubjectPublicKeyInfo", the key type named by the algorithm's OID, as `X509_PUBKEY` does), only not rebuilt
/// for every certificate. Not thread-safe: one per thread.
final class PublicKeyDecoder {
    static let inputType: StaticString = "DER"
    static let inputStructure: StaticString = "SubjectPublicKeyInfo"

    private final class Context {
        let pointer: OpaquePointer
        /// OpenSSL 3.0 may keep the key type pointer it was given: owned here, freed with the context.
        let keyType: UnsafeMutablePointer<CChar>
        init(pointer: OpaquePointer, keyType: UnsafeMutablePointer<CChar>) {
            self.pointer = pointer
            self.keyType = keyType
        }
        deinit {
            OSSL_DECODER_CTX_free(pointer)
            free(keyType)
        }
    }

    private var contexts: [String: Context] = [:]
    private let slot: UnsafeMutablePointer<OpaquePointer?>

    init() {
        slot = .allocate(capacity: 1)
        slot.initialize(to: nil)
    }

    deinit {
        contexts.removeAll()
        if let pkey = slot.pointee { EVP_PKEY_free(pkey) }
        slot.deinitialize(count: 1)
        slot.deallocate()
    }

    /// The key in `spki` (DER), decoded as a key of `keyType` (the algorithm OID's name, as `OBJ_obj2txt`
    /// writes it); nil when the default provider cannot decode it. The caller owns the returned `EVP_PKEY`.
    func decode(_ spki: [UInt8], keyType: String) -> OpaquePointer? {
        guard let context = context(for: keyType) else { return nil }
        return decodeKey(spki, with: context.pointer, into: slot)
    }

    private func context(for keyType: String) -> Context? {
        if let known = contexts[keyType] { return known }
        guard let name = strdup(keyType) else { return nil }
        guard let pointer = OSSL_DECODER_CTX_new_for_pkey(slot, Self.inputType.cString, Self.inputStructure.cString, name,
                                                          shim_EVP_PKEY_PUBLIC_KEY(), nil, nil) else {
            free(name)
            ERR_clear_error()
            return nil
        }
        let context = Context(pointer: pointer, keyType: name)
        contexts[keyType] = context
        return context
    }
}

/// Decodes `bytes` with a reusable decoder context whose output slot is `slot`: the key (owned by the caller),
/// or nil. The slot is emptied before and after, so a context serves any number of inputs.
func decodeKey(_ bytes: [UInt8], with context: OpaquePointer, into slot: UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer? {
    if let stale = slot.pointee { EVP_PKEY_free(stale) }
    slot.pointee = nil
    let ok = bytes.withUnsafeBufferPointer { buffer -> Int32 in
        var pointer = buffer.baseAddress
        var length = buffer.count
        return OSSL_DECODER_from_data(context, &pointer, &length)
    }
    let pkey = slot.pointee
    slot.pointee = nil
    guard ok == 1, let pkey else {
        if let pkey { EVP_PKEY_free(pkey) }
        ERR_clear_error()
        return nil
    }
    return pkey
}
