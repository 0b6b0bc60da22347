// libFuzzer target for the KServe v2 infer response decoder, which reads what a backend answered: any byte string
// must decode or be refused with a JSON path, never crash; a body that decodes must encode again, and that
// encoding must decode to the same values and encode to the same bytes, so numbers (FP32 above all) survive the
// round trip exactly. Built by deploy/local/fuzz.sh with swiftc against a fuzzer-instrumented PlatformCore.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let reply: KServeInferReply
    do {
        reply = try KServeClient.decodeInferReply(bytes)
    } catch {
        guard !error.reason.isEmpty else { fatalError("a refusal without a reason: \(error)") }
        return 0
    }
    guard case .inferred(let response) = reply else { return 0 }
    let encoded: [UInt8]
    do {
        encoded = try KServeClient.encodeInferResponse(response)
    } catch {
        fatalError("a decoded response does not encode: \(error)")
    }
    guard case .inferred(let again)? = try? KServeClient.decodeInferReply(encoded), again == response else {
        fatalError("the encoding reads back differently: \(String(decoding: encoded, as: UTF8.self))")
    }
    guard (try? KServeClient.encodeInferResponse(again)) == encoded else {
        fatalError("a second encoding differs: \(String(decoding: encoded, as: UTF8.self))")
    }
    return 0
}
