using MedVision.Edge.Ingest;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Ingest;

/// <summary>The slot pool against real files: full after start, drained by a burst without refilling under it, topped up after.</summary>
public sealed class SpoolSlotsTests
{
    private const int PoolSize = 32;

    [Fact]
    public Task Burst_drains_the_pool_without_refilling_under_it_and_the_quiet_after_it_refills() =>
        WithFullPoolAsync(async slots =>
        {
            // A modality sending an instance every few milliseconds: the pool is left to drain while the burst goes on.
            var belowHalfInARow = 0;
            var longestBelowHalf = 0;
            var taken = new List<string>();
            for (var i = 0; i < PoolSize - PoolSize / 8 - 2; i++)
            {
                taken.Add(slots.Take());
                belowHalfInARow = slots.FreeCount < PoolSize / 2 ? belowHalfInARow + 1 : 0;
                longestBelowHalf = Math.Max(longestBelowHalf, belowHalfInARow);
                await Task.Delay(2);
            }
            Assert.True(longestBelowHalf >= 5, $"the pool was refilled during the burst (at most {longestBelowHalf} takes in a row below half)");
            Assert.All(taken, path => Assert.Equal(0, new FileInfo(path).Length));
            Assert.Equal(taken.Count, taken.Distinct().Count());

            // The burst is over: the pool is topped up again with new, distinct, empty slots.
            await WaitForAsync(() => slots.IsFull);
            var files = Directory.GetFiles(slots.Directory);
            Assert.Equal(PoolSize + taken.Count, files.Length);
        });

    [Fact]
    public Task Pool_nearly_dry_is_refilled_even_while_the_burst_goes_on() =>
        WithFullPoolAsync(async slots =>
        {
            var refilledDuringBurst = false;
            var left = slots.FreeCount;
            // Takes every 5 ms for about 2 s: far shorter gaps than the quiet period, so only the low-water rule can refill.
            for (var i = 0; i < 400 && !refilledDuringBurst; i++)
            {
                refilledDuringBurst = slots.FreeCount > left;
                slots.Take();
                left = slots.FreeCount;
                await Task.Delay(5);
            }
            Assert.True(refilledDuringBurst, "a pool with an eighth left must be refilled without waiting for the burst to end");
        });

    /// <summary>A pool in a fresh folder with its refiller running, handed to <paramref name="test"/> once full.</summary>
    private static async Task WithFullPoolAsync(Func<SpoolSlots, Task> test)
    {
        using var data = new TempDirectory("medvision-slots");
        var slots = new SpoolSlots(Options.Create(new StorageOptions { Root = data.Path, SpoolSlotPoolSize = PoolSize }), TimeProvider.System, NullLogger<SpoolSlots>.Instance);
        using var stop = new CancellationTokenSource();
        var refiller = slots.RefillLoopAsync(stop.Token);
        try
        {
            await WaitForAsync(() => slots.IsFull);
            await test(slots);
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => refiller);
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }
}
