import Testing

@testable import PlatformProduction

@Suite struct MailboxTests {
    @Test func mailboxIsAClassProtocol() {
        final class Inline: Mailbox, @unchecked Sendable {
            var ran = 0
            func post(_ job: @escaping @Sendable () -> Void) { job() }
        }
        let box = Inline()
        box.post {}
        #expect(box.ran == 0)
    }
}
