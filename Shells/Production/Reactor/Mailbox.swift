// How work done off a reactor thread (a blocking store call, a model evaluation) gets back onto it.

/// A reactor's inbox: `post` may be called from any thread; the job runs later on the reactor's
/// own thread, in the order posted, between two rounds of socket events.
public protocol Mailbox: AnyObject, Sendable {
    func post(_ job: @escaping @Sendable () -> Void)
}
