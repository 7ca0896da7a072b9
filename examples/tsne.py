"""Draw the embeddings of Symptom2Disease in 2-D with t-SNE, one colour per disease.

    python examples/tsne.py --output-dir out

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. Writes ``symptom2disease_tsne.png`` to ``--output-dir``.
"""

import matplotlib

matplotlib.use("Agg")  # Agg renders to files and needs no display.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.manifold import TSNE

from _common import describe_usage, embedding_server, load_symptoms, make_vectorizer, output_path, parse_args
from sklearn_mistral import track_usage

FILENAME = "symptom2disease_tsne.png"


def main():
    args = parse_args(__doc__.splitlines()[0])
    texts, labels = load_symptoms(args)

    with embedding_server() as (service, fake), track_usage() as usage:
        vectorizer = make_vectorizer(args, service)
        X = vectorizer.transform(texts)

    # t-SNE looks at about 3 * perplexity neighbours of each point, so a sample of
    # fewer than ~90 texts gets a perplexity below scikit-learn's default of 30.
    perplexity = min(30.0, (len(texts) - 1) / 3)
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0).fit_transform(X)

    source = "offline fake API, not mistral-embed" if fake is not None else "mistral-embed"
    path = output_path(args, FILENAME)
    draw(points, labels, f"t-SNE of {len(texts)} Symptom2Disease embeddings ({source})", path)

    print(f"t-SNE of {X.shape[0]} embeddings of {X.shape[1]} dimensions, {len(set(labels))} diseases.")
    print(f"Saved the picture to {path}")
    print(describe_usage(usage))


def draw(points, labels, title, path):
    """Scatter ``points`` coloured by label, with a legend beside the axes, into ``path``."""
    names = sorted(set(labels))
    # tab20 and the first colours of tab20b give 24 distinguishable colours.
    colours = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]
    labels = np.asarray(labels)

    figure, axes = plt.subplots(figsize=(9, 6), dpi=80)
    for i, name in enumerate(names):
        mask = labels == name
        axes.scatter(points[mask, 0], points[mask, 1], s=10, color=colours[i % len(colours)], label=name)

    axes.set_title(title, fontsize=10)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, markerscale=1.5, frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    main()
