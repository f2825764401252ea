using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Review;

public static class ReviewServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ReviewOptions"/> (section <c>MedVision:Review</c>, validated at start), the
    /// <see cref="ReviewStore"/> and the review page. Needs <c>AddEdgeStorage</c>; cloud sync adds its own sink.
    /// </summary>
    public static IServiceCollection AddEdgeReview(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ReviewOptions>().Bind(configuration.GetSection(ReviewOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReviewOptions>, ReviewOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ReviewStore>();
        services.TryAddSingleton<ReviewPage>();
        return services;
    }
}
