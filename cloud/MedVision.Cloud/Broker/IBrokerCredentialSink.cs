namespace MedVision.Cloud.Broker;

/// <summary>Told when device credentials change, so a broker that keeps its own copy (Mosquitto) can be updated.</summary>
public interface IBrokerCredentialSink
{
    Task CredentialsChangedAsync(CancellationToken cancellationToken);
}

/// <summary>The embedded broker reads credentials straight from the database: nothing to update.</summary>
internal sealed class NoCredentialSink : IBrokerCredentialSink
{
    public Task CredentialsChangedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
