namespace MedVision.Cloud.Broker;

/// <summary>Told when device credentials change, so a broker that keeps its own copy (Mosquitto) can be updated.</summary>
public interface IBrokerCredentialSink
{
    /// <summary>Brings the broker's copy up to date; a failure is logged and leaves <see cref="UpToDate"/> false.</summary>
    Task CredentialsChangedAsync(CancellationToken cancellationToken);

    /// <summary>Whether the broker's copy matched the database after the last attempt.</summary>
    bool UpToDate { get; }
}

/// <summary>The embedded broker reads credentials straight from the database: nothing to update.</summary>
internal sealed class NoCredentialSink : IBrokerCredentialSink
{
    public Task CredentialsChangedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public bool UpToDate => true;
}
