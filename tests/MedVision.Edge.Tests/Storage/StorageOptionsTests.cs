using MedVision.Edge.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Storage;

public sealed class StorageOptionsTests
{
    [Fact]
    public void Root_defaults_to_data_under_the_current_directory_and_is_made_absolute()
    {
        using var provider = Build(new Dictionary<string, string?>());

        var options = provider.GetRequiredService<IOptions<StorageOptions>>().Value;

        Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "data"), options.Root);
        Assert.Equal(Path.Combine(options.Root, "spool"), options.SpoolDirectory);
        Assert.Equal(Path.Combine(options.Root, "db", "edge.db"), options.DatabasePath);
        Assert.Equal(500, options.MinFreeDiskMegabytes);
    }

    [Fact]
    public void Configuration_binds_and_invalid_values_fail_validation()
    {
        using var good = Build(new Dictionary<string, string?>
        {
            ["MedVision:Storage:Root"] = "/var/lib/medvision",
            ["MedVision:Storage:MinFreeDiskMegabytes"] = "2048",
        });
        var options = good.GetRequiredService<IOptions<StorageOptions>>().Value;
        Assert.Equal("/var/lib/medvision", options.Root);
        Assert.Equal(2048L * 1024 * 1024, options.MinFreeDiskBytes);

        using var bad = Build(new Dictionary<string, string?> { ["MedVision:Storage:MinFreeDiskMegabytes"] = "-1" });
        var error = Assert.Throws<OptionsValidationException>(() => bad.GetRequiredService<IOptions<StorageOptions>>().Value);
        Assert.Contains("MinFreeDiskMegabytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disk_space_compares_against_the_watermark()
    {
        var root = Path.Combine(Path.GetTempPath(), "medvision-edge-tests", "not-created-" + Guid.NewGuid().ToString("N"));
        var lenient = new DiskSpace(Options.Create(new StorageOptions { Root = root, MinFreeDiskMegabytes = 0 }));
        var strict = new DiskSpace(Options.Create(new StorageOptions { Root = root, MinFreeDiskMegabytes = long.MaxValue / (2L * 1024 * 1024) }));

        Assert.True(lenient.FreeBytes > 0);
        Assert.True(lenient.HasRoomFor(1024));
        Assert.False(lenient.HasRoomFor(lenient.FreeBytes + 1));
        Assert.False(lenient.IsBelowWatermark);
        Assert.False(strict.HasRoomFor(0));
        Assert.True(strict.IsBelowWatermark);
    }

    private static ServiceProvider Build(Dictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEdgeStorage(configuration);
        return services.BuildServiceProvider();
    }
}
