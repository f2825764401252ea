using System.Collections.Concurrent;
using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using MedVision.Dicom.IO;
using MedVision.Dicom.Json;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests.Fuzz;

/// <summary>
/// Property: whatever bytes arrive (bit flips, truncations, corrupted length fields, inserted or deleted bytes in real
/// files), reading either succeeds or throws <see cref="DicomFormatException"/>; it never throws anything else, never
/// hangs (each input gets a time bound) and never allocates for a length the input cannot hold. What reads must also
/// dump and convert to JSON and back. 100,000 inputs by default (about 30 s on 2 idle cores, 75 s under load);
/// MEDVISION_FUZZ_INPUTS sets another count (e.g. 1000000 for a long campaign, 5000 for a quick check).
/// </summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output)
{
    private static readonly Lazy<FuzzCorpus> Corpus = new(FuzzCorpus.Load);
    private static readonly TimeSpan PerInputLimit = TimeSpan.FromSeconds(10);

    // Far above what an honest parse of a ≤16 KB input needs (buffers, strings), far below what a trusted length field would cost.
    private const long AllocationLimit = 32L * 1024 * 1024;

    private static int Inputs => int.TryParse(Environment.GetEnvironmentVariable("MEDVISION_FUZZ_INPUTS"), out var n) && n > 0 ? n : 100_000;

    [Fact]
    public void Mutated_real_files_are_read_or_refused_with_a_format_error()
    {
        var corpus = Corpus.Value;
        var outcomes = new ConcurrentDictionary<string, int>();
        var stopwatch = Stopwatch.StartNew();
        var property = Prop.ForAll(Mutation.Arbitrary(corpus), mutation =>
        {
            var outcome = Run(mutation, corpus);
            outcomes.AddOrUpdate(outcome.Split(':')[0], 1, (_, c) => c + 1);
            return outcome is "read" or "refused";
        });
        try
        {
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(Inputs).WithQuietOnSuccess(true), property);
        }
        finally
        {
            stopwatch.Stop();
            var total = outcomes.Values.Sum();
            output.WriteLine($"{total} inputs from {corpus.Seeds.Count} seeds in {stopwatch.Elapsed.TotalSeconds:F1} s ({total / stopwatch.Elapsed.TotalSeconds:F0} inputs/s): " +
                string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        }
        Assert.Equal(Inputs, outcomes.Values.Sum());
        Assert.True(outcomes.GetValueOrDefault("read") > 0 && outcomes.GetValueOrDefault("refused") > 0, "mutations should both keep and break files");
    }

    /// <summary>"read" or "refused" when all is well; otherwise what went wrong, which fails the property.</summary>
    private static string Run(Mutation mutation, FuzzCorpus corpus)
    {
        var bytes = mutation.Apply(corpus);
        var task = Task.Run(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using Stream stream = mutation.NonSeekable ? new NonSeekableStream(bytes) : new MemoryStream(bytes, writable: false);
                var file = DicomReader.Read(stream);
                _ = new DicomDumper().Dump(file);
                var json = DicomJson.Serialize(file.Dataset);
                _ = DicomJson.Deserialize(json);
                return Allocation(before) ?? "read";
            }
            catch (DicomFormatException)
            {
                return Allocation(before) ?? "refused";
            }
            catch (Exception ex)
            {
                return $"crash: {ex.GetType().Name}: {ex.Message} ({mutation}) {ex.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
            }
        });
        if (!task.Wait(PerInputLimit))
        {
            throw new TimeoutException($"hang: over {PerInputLimit.TotalSeconds} s ({mutation})");
        }
        var result = task.Result;
        if (!result.StartsWith("read", StringComparison.Ordinal) && !result.StartsWith("refused", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(result);
        }
        return result;

        string? Allocation(long before)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            return allocated > AllocationLimit ? $"allocation: {allocated / (1024 * 1024)} MiB for a {bytes.Length} byte input ({mutation})" : null;
        }
    }
}

/// <summary>A forward-only stream, as a network or inflating stream is: the reader cannot ask it how long it is.</summary>
internal sealed class NonSeekableStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes, writable: false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
