using System.Globalization;

namespace MedVision.Testing;

/// <summary>Polls a condition that a background service or a peer makes true in its own time; the test fails if it never does.</summary>
public static class Eventually
{
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"{what}: not reached within {timeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s");
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}
