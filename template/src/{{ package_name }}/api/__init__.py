"""HTTP routers; each module owns its ``APIRouter``."""
