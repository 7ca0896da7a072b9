"""Retrieve the passages of a small knowledge base that best match a question.

    python examples/retrieval.py [--query "How is a urinary tract infection treated?"] [--k 3]

Offline by default (the fake API on loopback); with MISTRAL_API_KEY set, it uses the
real API. The passages are embedded once and indexed with ``NearestNeighbors`` under
cosine distance. The question is embedded with the same vectorizer, and the k nearest
passages are printed with their cosine similarity. In retrieval-augmented generation,
these passages are what goes into the prompt of a chat model.
"""

from sklearn.neighbors import NearestNeighbors

from _common import describe_usage, embedding_service, make_vectorizer, parse_args
from sklearn_mistral import track_usage

# General descriptions written for this example. They are not medical advice.
KNOWLEDGE_BASE = [
    "Migraine causes throbbing headaches, often on one side of the head, with nausea and "
    "sensitivity to light; some people see flashes or blurred vision before the headache starts.",
    "Migraine attacks are treated with pain relievers or triptans taken early; frequent attacks "
    "can be prevented with daily medication, regular sleep and avoiding known triggers.",
    "Chicken pox starts with fever and tiredness, then an itchy rash of red spots that turn into "
    "fluid-filled blisters and crust over within a week.",
    "Chicken pox is usually managed at home: calamine lotion and cool baths ease the itching, and a "
    "vaccine prevents most cases.",
    "Psoriasis makes skin cells build up into red, scaly patches, most often on the elbows, knees "
    "and scalp; nails can become pitted.",
    "Psoriasis is treated with creams containing corticosteroids or vitamin D, light therapy, and "
    "for severe cases medicines that calm the immune system.",
    "A urinary tract infection causes a burning feeling when urinating, a frequent urge to urinate, "
    "cloudy or bloody urine and pain in the lower belly.",
    "Urinary tract infections are treated with a short course of antibiotics; drinking plenty of "
    "water helps flush bacteria out of the bladder.",
    "Bronchial asthma narrows the airways, causing wheezing, shortness of breath, chest tightness "
    "and coughing, often at night or after exercise.",
    "Asthma is controlled with inhaled corticosteroids taken every day and a quick-relief inhaler "
    "for sudden attacks.",
    "Diabetes raises blood sugar and causes strong thirst, frequent urination, tiredness, slow "
    "healing of cuts and blurred vision.",
    "Type 2 diabetes is managed with a balanced diet, regular exercise, blood sugar checks and "
    "medicines such as metformin or insulin.",
    "Dengue fever, spread by mosquitoes, brings a high fever, severe headache, pain behind the eyes, "
    "joint and muscle pain and sometimes a rash.",
    "There is no specific medicine for dengue: rest, fluids and paracetamol help, while aspirin and "
    "ibuprofen are avoided because of the risk of bleeding.",
]

QUERY = "What helps with an itchy rash of red blisters?"
N_HITS = 3


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        **{
            "--query": {"default": QUERY, "help": "the question to look up (default: %(default)r)"},
            "--k": {"type": int, "default": N_HITS, "help": "number of passages to retrieve (default: %(default)s)"},
        },
    )

    with embedding_service() as service, track_usage() as usage:
        vectorizer = make_vectorizer(args, service)
        index = NearestNeighbors(n_neighbors=args.k, metric="cosine").fit(vectorizer.transform(KNOWLEDGE_BASE))
        distances, positions = index.kneighbors(vectorizer.transform([args.query]))

    print(f"Knowledge base: {len(KNOWLEDGE_BASE)} passages. Query: {args.query!r}\n")
    print(f"Top {args.k} passages by cosine similarity:")
    for rank, (distance, position) in enumerate(zip(distances[0], positions[0]), start=1):
        print(f"  {rank}. [{1 - distance:.3f}] {KNOWLEDGE_BASE[position]}")
    print(f"\n{describe_usage(usage)}")


if __name__ == "__main__":
    main()
